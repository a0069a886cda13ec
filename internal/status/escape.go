package status

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Printable returns s fit for a terminal: unchanged when every character in
// it prints, else quoted Go-style ("a\x1b[31mb"), so that a file name or a
// server's message cannot move the cursor, recolour or retitle the terminal,
// or hide itself behind a carriage return or a bidi override.
func Printable(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
