package emulator

import (
	"fmt"
	"strings"
	"time"
)

// loadDemo fills the account with what a small but typical paid account has: a
// Flask site with its WSGI file, logs and static mappings, a disabled second site,
// two scheduled tasks, an always-on task, a console nobody opened yet, students.
func (e *Emulator) loadDemo() {
	u := e.user
	home := "/home/" + u
	site := u + ".pythonanywhere.com"
	second := "www." + u + "-demo.com"
	files := map[string]string{
		home + "/README.txt":                  demoReadme,
		home + "/.bashrc":                     demoBashrc,
		home + "/mysite/flask_app.py":         demoFlaskApp,
		home + "/mysite/templates/index.html": strings.ReplaceAll(demoIndex, "{u}", u),
		home + "/mysite/static/style.css":     demoCSS,
	}
	for p, content := range files {
		e.WriteFile(p, []byte(content))
	}
	e.AddWebapp(Webapp{DomainName: site, PythonVersion: "3.10", SourceDirectory: home + "/mysite",
		WorkingDirectory: home + "/", Expiry: time.Now().AddDate(0, 3, 0).Format(time.DateOnly), Enabled: true},
		strings.ReplaceAll(demoWSGI, "{u}", u))
	e.AddStaticFile(site, "/static/", home+"/mysite/static")
	e.AddStaticHeader(site, "/static/", "Cache-Control", "max-age=3600")
	e.AddWebapp(Webapp{DomainName: second, PythonVersion: "3.11", SourceDirectory: home + "/mysite",
		WorkingDirectory: home + "/", Expiry: time.Now().AddDate(0, 3, 0).Format(time.DateOnly), ForceHTTPS: true}, "")
	logs := LogPaths(site)
	e.WriteFile(logs[0], []byte(demoAccessLog()))
	e.WriteFile(logs[1], []byte(demoErrorLog(WSGIPath(site))))
	e.WriteFile(logs[2], []byte(demoServerLog()))

	hour := 4
	e.AddScheduledTask(ScheduledTask{Command: "python3.10 " + home + "/mysite/backup.py",
		Description: "nightly backup", Enabled: true, Interval: "daily", Hour: &hour, Minute: 30})
	e.AddScheduledTask(ScheduledTask{Command: "echo hello", Description: "", Enabled: true,
		Interval: "hourly", Minute: 15})
	e.AddAlwaysOnTask(AlwaysOnTask{Command: "python3.10 " + home + "/bot.py", Description: "demo bot", Enabled: true})
	e.AddConsole("bash", "")
	e.AddStudent("alice")
	e.AddStudent("bob")

	e.mu.Lock()
	e.account.CPU.DailyCPUTotalUsageSeconds = 12.345678
	e.mu.Unlock()
}

func demoAccessLog() string {
	t := time.Now().UTC().Add(-2 * time.Hour)
	var b strings.Builder
	for i, req := range []string{"GET / HTTP/1.1\" 200 512", "GET /static/style.css HTTP/1.1\" 200 230",
		"GET /favicon.ico HTTP/1.1\" 404 179", "GET / HTTP/1.1\" 200 512"} {
		ts := t.Add(time.Duration(i) * 7 * time.Minute).Format("02/Jan/2006:15:04:05 +0000")
		fmt.Fprintf(&b, "10.0.0.%d - - [%s] \"%s \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\" "+
			"\"10.0.0.%d\" response-time=0.00%d\n", 10+i, ts, req, 10+i, 3+i)
	}
	return b.String()
}

func demoErrorLog(wsgi string) string {
	ts := time.Now().UTC().Add(-90 * time.Minute).Format("2006-01-02 15:04:05,000")
	return ts + ": Error running WSGI application\n" +
		ts + ": ModuleNotFoundError: No module named 'flask_sqlalchemy'\n" +
		ts + ":   File \"" + wsgi + "\", line 16, in <module>\n"
}

func demoServerLog() string {
	ts := time.Now().UTC().Add(-3 * time.Hour).Format("2006-01-02 15:04:05")
	return ts + " *** Starting uWSGI 2.0.20 (64bit) on [" + time.Now().UTC().Add(-3*time.Hour).Format(time.ANSIC) + "] ***\n" +
		ts + " WSGI app 0 (mountpoint='') ready in 1 seconds on interpreter 0x5581 pid: 1 (default app)\n" +
		ts + " *** uWSGI is running in multiple interpreter mode ***\n"
}

const demoReadme = `Welcome to your PythonAnywhere demo account (served by the pafs emulator).

mysite/ holds a small Flask app; it is served at your-username.pythonanywhere.com
through the WSGI file in /var/www. Logs are in /var/log.
`

const demoBashrc = `# ~/.bashrc: executed by bash(1) for non-login shells.
export PS1='\[\e[32m\]\A\[\e[0m\] \w $ '
alias ll='ls -alF'
`

const demoFlaskApp = `from flask import Flask, render_template

app = Flask(__name__)


@app.route("/")
def index():
    return render_template("index.html")
`

const demoIndex = `<!doctype html>
<html>
  <head>
    <title>{u}'s demo site</title>
    <link rel="stylesheet" href="/static/style.css">
  </head>
  <body>
    <h1>Hello from {u}'s Flask app!</h1>
  </body>
</html>
`

const demoCSS = `body { font-family: sans-serif; margin: 2em auto; max-width: 40em; }
h1 { color: #1d6fa5; }
`

const demoWSGI = `# This file contains the WSGI configuration required to serve up your
# web application at http://{u}.pythonanywhere.com/

import sys

# add your project directory to the sys.path
project_home = '/home/{u}/mysite'
if project_home not in sys.path:
    sys.path = [project_home] + sys.path

# import flask app but need to call it "application" for WSGI to work
from flask_app import app as application  # noqa
`
