package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/tlog"
)

// line is one trail line in memory, record or checkpoint. The encoding of
// a line is canonical: appendLine is the only writer, and a line read back
// counts only when appendLine turns what it parsed into the same bytes.
// So two lines that mean the same are the same bytes, and a hash of the
// bytes is a hash of the meaning.
type line struct {
	checkpoint string // the signed note; "" for a record

	seq        int64
	time       []byte // RFC 3339 with nanoseconds, UTC
	op         string
	collection string
	id         string
	principal  string
	outcome    string
	errorKind  string
	count      int64
	hasCount   bool
	durationNS int64
	prev       tlog.Hash
}

// appendLine appends l's canonical encoding, without the newline.
func appendLine(b []byte, l *line) []byte {
	if l.checkpoint != "" {
		b = append(b, `{"checkpoint":`...)
		b = appendString(b, l.checkpoint)
		return append(b, '}')
	}
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, l.seq, 10)
	b = append(b, `,"time":"`...)
	b = append(b, l.time...)
	b = append(b, `","op":`...)
	b = appendString(b, l.op)
	if l.collection != "" {
		b = append(b, `,"collection":`...)
		b = appendString(b, l.collection)
	}
	if l.id != "" {
		b = append(b, `,"id":`...)
		b = appendString(b, l.id)
	}
	if l.principal != "" {
		b = append(b, `,"principal":`...)
		b = appendString(b, l.principal)
	}
	b = append(b, `,"outcome":`...)
	b = appendString(b, l.outcome)
	if l.errorKind != "" {
		b = append(b, `,"error_kind":`...)
		b = appendString(b, l.errorKind)
	}
	if l.hasCount {
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, l.count, 10)
	}
	b = append(b, `,"duration_ns":`...)
	b = strconv.AppendInt(b, l.durationNS, 10)
	b = append(b, `,"prev":"`...)
	b = base64.StdEncoding.AppendEncode(b, l.prev[:])
	return append(b, `"}`...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: control characters, quote and
// backslash escaped, invalid UTF-8 replaced by U+FFFD (as encoding/json
// reads it), U+2028 and U+2029 escaped so that no JavaScript reader splits
// a line.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = utf8.AppendRune(b, utf8.RuneError)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// wireLine is what a trail line parses into before the canonical check.
type wireLine struct {
	Seq        *int64  `json:"seq"`
	Time       string  `json:"time"`
	Op         string  `json:"op"`
	Collection string  `json:"collection"`
	ID         string  `json:"id"`
	Principal  string  `json:"principal"`
	Outcome    string  `json:"outcome"`
	ErrorKind  string  `json:"error_kind"`
	Count      *int64  `json:"count"`
	DurationNS *int64  `json:"duration_ns"`
	Prev       string  `json:"prev"`
	Checkpoint *string `json:"checkpoint"`
}

var errNotCanonical = errors.New("not a line this package writes")

// parseLine parses one trail line (without its newline) and checks that it
// is in canonical form. Its errors never quote the line.
func parseLine(data []byte) (*line, error) {
	var w wireLine
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, errNotCanonical
	}
	if dec.More() {
		return nil, errNotCanonical
	}
	l := &line{}
	if w.Checkpoint != nil {
		l.checkpoint = *w.Checkpoint
		if l.checkpoint == "" {
			return nil, errNotCanonical
		}
	} else {
		if w.Seq == nil || w.DurationNS == nil || w.Op == "" || w.Outcome == "" || *w.Seq < 0 {
			return nil, errNotCanonical
		}
		if _, err := time.Parse(time.RFC3339Nano, w.Time); err != nil {
			return nil, errNotCanonical
		}
		prev, err := base64.StdEncoding.DecodeString(w.Prev)
		if err != nil || len(prev) != tlog.HashSize {
			return nil, errNotCanonical
		}
		l.seq, l.time, l.op, l.collection, l.id, l.principal = *w.Seq, []byte(w.Time), w.Op, w.Collection, w.ID, w.Principal
		l.outcome, l.errorKind, l.durationNS = w.Outcome, w.ErrorKind, *w.DurationNS
		if w.Count != nil {
			l.count, l.hasCount = *w.Count, true
		}
		copy(l.prev[:], prev)
	}
	if !bytes.Equal(appendLine(nil, l), data) {
		return nil, errNotCanonical
	}
	return l, nil
}
