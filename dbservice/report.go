package dbservice

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Report is a security checklist report: the findings of CheckPosture for
// one service, renderable as an aligned text table (WriteText) or as JSON
// (json.Marshal or WriteJSON).
type Report struct {
	// Provider names the backend the findings are about ("memory",
	// "couchdb", ...); informational only.
	Provider string
	// Findings in checklist order, as CheckPosture returns them.
	Findings []Finding
}

// NewReport runs CheckPosture on svc and returns its Report.
func NewReport(ctx context.Context, provider string, svc Service) Report {
	return Report{Provider: provider, Findings: CheckPosture(ctx, svc)}
}

// Worst returns the worst status among the findings (Fail > Warn > Pass >
// Skip), or Skip when there are none.
func (r Report) Worst() Status {
	worst := Skip
	for _, f := range r.Findings {
		if rank(f.Status) > rank(worst) {
			worst = f.Status
			if !knownStatus(worst) {
				worst = Fail
			}
		}
	}
	return worst
}

// HasFail reports whether any finding failed: the condition a CI gate
// should stop on.
func (r Report) HasFail() bool {
	return r.Worst() == Fail
}

// Count returns how many findings have status s.
func (r Report) Count(s Status) int {
	n := 0
	for _, f := range r.Findings {
		if f.Status == s {
			n++
		}
	}
	return n
}

// reportJSON fixes the JSON field names; they are part of the API.
type reportJSON struct {
	Provider string         `json:"provider,omitempty"`
	Worst    Status         `json:"worst"`
	Counts   map[Status]int `json:"counts"`
	Findings []Finding      `json:"findings"`
}

// MarshalJSON encodes the report as
// {"provider", "worst", "counts": {"pass", "warn", "fail", "skip"},
// "findings": [{"id", "title", "status", "detail", "fix"}]}.
func (r Report) MarshalJSON() ([]byte, error) {
	findings := r.Findings
	if findings == nil {
		findings = []Finding{}
	}
	return json.Marshal(reportJSON{
		Provider: r.Provider,
		Worst:    r.Worst(),
		Counts:   map[Status]int{Pass: r.Count(Pass), Warn: r.Count(Warn), Fail: r.Count(Fail), Skip: r.Count(Skip)},
		Findings: findings,
	})
}

// WriteJSON writes the report as indented JSON followed by a newline.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as an aligned table: one row per finding
// (status, ID, title, detail), the fix under every failing and warning row,
// how to check it under every skipped row, and a summary line.
func (r Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	title := "security checklist"
	if r.Provider != "" {
		title += " (provider: " + oneLine(r.Provider) + ")"
	}
	bw.WriteString(title + "\n\n")

	idW, titleW := len("ID"), len("TITLE")
	for _, f := range r.Findings {
		idW = max(idW, utf8.RuneCountInString(oneLine(f.ID)))
		titleW = max(titleW, utf8.RuneCountInString(oneLine(f.Title)))
	}
	const statusW = len("STATUS")
	row := func(status, id, title, detail string) {
		bw.WriteString(pad(status, statusW) + "  " + pad(id, idW) + "  " + pad(title, titleW) + "  " + detail)
		bw.WriteString("\n")
	}
	row("STATUS", "ID", "TITLE", "DETAIL")
	indent := strings.Repeat(" ", statusW+2)
	for _, f := range r.Findings {
		row(strings.ToUpper(oneLine(string(f.Status))), oneLine(f.ID), oneLine(f.Title), oneLine(f.Detail))
		if f.Fix == "" {
			continue
		}
		switch f.Status {
		case Pass:
		case Skip:
			bw.WriteString(indent + "check: " + oneLine(f.Fix) + "\n")
		default:
			bw.WriteString(indent + "fix:   " + oneLine(f.Fix) + "\n")
		}
	}
	bw.WriteString("\n" + strconv.Itoa(r.Count(Pass)) + " pass, " + strconv.Itoa(r.Count(Warn)) + " warn, " +
		strconv.Itoa(r.Count(Fail)) + " fail, " + strconv.Itoa(r.Count(Skip)) + " skip; worst: " + string(r.Worst()) + "\n")
	return bw.Flush()
}

// oneLine keeps a layer's text from breaking the table: control
// characters become spaces.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, isControl) && utf8.ValidString(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "?")
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}
