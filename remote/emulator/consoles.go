package emulator

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Console is a console object as the API sends it.
type Console struct {
	ID               int     `json:"id"`
	User             string  `json:"user"`
	Executable       string  `json:"executable"`
	Arguments        string  `json:"arguments"`
	WorkingDirectory *string `json:"working_directory"`
	Name             string  `json:"name"`
	ConsoleURL       string  `json:"console_url"`
	ConsoleFrameURL  string  `json:"console_frame_url"`

	// Started is false until StartConsole (a browser opening it, on the real site).
	Started bool `json:"-"`
	// Shared marks a console someone else shared with the account.
	Shared bool `json:"-"`
}

type consoleState struct {
	Console
	output string // the last outputKeep bytes of the terminal
	input  string // everything sent with send_input
}

// outputKeep is how much terminal output get_latest_output returns (≈500 chars).
const outputKeep = 500

const consoleNotStarted = "Console not yet started. Please load it (or its iframe) in a browser first"

// consoleName imitates the web UI's names: "Bash console 12", "Python 3.10 console 12".
func consoleName(executable string, id int) string {
	kind := executable
	switch {
	case executable == "bash":
		kind = "Bash"
	case strings.HasPrefix(executable, "python"):
		kind = "Python " + strings.TrimPrefix(executable, "python")
	case strings.HasPrefix(executable, "ipython"):
		kind = "IPython " + strings.TrimPrefix(executable, "ipython")
	}
	return fmt.Sprintf("%s console %d", strings.TrimSpace(kind), id)
}

// addConsoleLocked creates a console owned by owner (the account unless shared).
func (e *Emulator) addConsoleLocked(owner, executable, args string, wd *string) *consoleState {
	id := e.newIDLocked("console")
	u := fmt.Sprintf("/user/%s/consoles/%d/", owner, id)
	c := &consoleState{Console: Console{ID: id, User: owner, Executable: executable, Arguments: args,
		WorkingDirectory: wd, Name: consoleName(executable, id), ConsoleURL: u, ConsoleFrameURL: u + "frame/",
		Shared: owner != e.user}}
	e.consoles[id] = c
	return c
}

// prompt is what the fake terminal shows when it waits for input.
func (c *consoleState) prompt() string {
	if strings.Contains(c.Executable, "python") {
		return ">>> "
	}
	return time.Now().UTC().Format("15:04") + " ~ $ "
}

// appendOutput adds to the terminal and keeps only its tail, cut on a rune boundary.
func (c *consoleState) appendOutput(s string) {
	out := c.output + s
	if len(out) > outputKeep {
		cut := len(out) - outputKeep
		for cut < len(out) && !utf8.RuneStart(out[cut]) {
			cut++
		}
		out = out[cut:]
	}
	c.output = out
}

// echo is what a terminal shows for typed input: the characters, and a fresh
// prompt after each Enter.
func (c *consoleState) echo(input string) {
	c.input += input
	c.appendOutput(strings.ReplaceAll(input, "\n", "\r\n"+c.prompt()))
}

func (e *Emulator) consoleList(*call) response       { return e.listConsoles(false) }
func (e *Emulator) consoleSharedList(*call) response { return e.listConsoles(true) }

func (e *Emulator) listConsoles(shared bool) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []Console{}
	for _, c := range e.sortedConsolesLocked() {
		if c.Shared == shared {
			out = append(out, c.Console)
		}
	}
	return jsonResponse(http.StatusOK, e.render("console", out))
}

func (e *Emulator) sortedConsolesLocked() []*consoleState {
	out := make([]*consoleState, 0, len(e.consoles))
	for _, c := range e.consoles {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (e *Emulator) consoleCreate(c *call) response {
	f, bad := parseBody(c.r)
	if bad != nil {
		return *bad
	}
	v := newValidator(f)
	exe, _ := v.str("executable", true, false)
	args, _ := v.str("arguments", false, true)
	wd, hasWD := v.str("working_directory", false, true)
	if bad := v.result(); bad != nil {
		return *bad
	}
	var wdp *string
	if hasWD && wd != "" {
		wdp = &wd
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return jsonResponse(http.StatusCreated, e.render("console", e.addConsoleLocked(e.user, exe, args, wdp).Console))
}

// consoleLocked finds the console named by the URL; the caller holds e.mu.
func (e *Emulator) consoleLocked(c *call) *consoleState {
	id, _ := strconv.Atoi(c.args[0])
	return e.consoles[id]
}

func (e *Emulator) consoleGet(c *call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	if con := e.consoleLocked(c); con != nil {
		return jsonResponse(http.StatusOK, e.render("console", con.Console))
	}
	return notFound()
}

func (e *Emulator) consoleDelete(c *call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	con := e.consoleLocked(c)
	switch {
	case con == nil:
		return notFound()
	case con.Shared:
		return permissionDenied()
	}
	delete(e.consoles, con.ID)
	return noContent()
}

func (e *Emulator) consoleOutput(c *call) response {
	e.mu.Lock()
	defer e.mu.Unlock()
	con := e.consoleLocked(c)
	switch {
	case con == nil:
		return notFound()
	case !con.Started:
		return jsonResponse(http.StatusPreconditionFailed, map[string]string{"error": consoleNotStarted})
	}
	return jsonResponse(http.StatusOK, map[string]string{"output": con.output})
}

func (e *Emulator) consoleInput(c *call) response {
	f, bad := parseBody(c.r)
	e.mu.Lock()
	defer e.mu.Unlock()
	con := e.consoleLocked(c)
	switch {
	case con == nil:
		return notFound()
	case !con.Started:
		return jsonResponse(http.StatusPreconditionFailed, map[string]string{"error": consoleNotStarted})
	case bad != nil:
		return *bad
	}
	v := newValidator(f)
	input, _ := v.str("input", true, true)
	if bad := v.result(); bad != nil {
		return *bad
	}
	con.echo(input)
	return statusOK()
}

// AddConsole creates a (not started) console as POST consoles/ would; it returns its id.
func (e *Emulator) AddConsole(executable, arguments string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.addConsoleLocked(e.user, executable, arguments, nil).ID
}

// AddSharedConsole adds a console that owner shares with the account.
func (e *Emulator) AddSharedConsole(owner, executable string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.addConsoleLocked(owner, executable, "", nil).ID
}

// StartConsole marks a console as opened in a browser: get_latest_output and
// send_input stop answering 412, and the terminal shows a prompt. It reports
// whether the console exists.
func (e *Emulator) StartConsole(id int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	con := e.consoles[id]
	if con == nil {
		return false
	}
	if !con.Started {
		con.Started = true
		con.appendOutput(con.prompt())
	}
	return true
}

// ConsoleInput is everything sent to the console with send_input so far.
func (e *Emulator) ConsoleInput(id int) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if con := e.consoles[id]; con != nil {
		return con.input
	}
	return ""
}

// ConsoleOutput is the console's current (trimmed) output.
func (e *Emulator) ConsoleOutput(id int) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if con := e.consoles[id]; con != nil {
		return con.output
	}
	return ""
}

// AppendConsoleOutput adds s to the console's output, as if a program printed it.
func (e *Emulator) AppendConsoleOutput(id int, s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if con := e.consoles[id]; con != nil {
		con.appendOutput(s)
	}
}

// Consoles returns every console, own and shared, by id.
func (e *Emulator) Consoles() []Console {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Console
	for _, c := range e.sortedConsolesLocked() {
		out = append(out, c.Console)
	}
	return out
}
