package main

import (
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// The list endpoint's query string is a small language of its own, so it
// is parsed strictly here, before Guard sees it:
//
//	where=FIELD:OP:VALUE   repeatable, ANDed; OP is one of eq ne gt gte lt
//	                       lte in exists; VALUE is JSON: "text", 42, true,
//	                       null, ["a","b"] (in only)
//	limit=N                page size, 1 to 1000
//	cursor=C               the "next" of the previous page
//	fields=a,b.c           projection
//
// Anything else is refused: unknown parameters, a repeated limit, cursor
// or fields, JSON objects as values (that is how {"$gt": ""} operator
// injection would arrive), operators spelled any other way.

// maxValueLen bounds one where value, in bytes.
const maxValueLen = 1024

// errQuery is a refused query string; its text is the problem detail and
// never quotes the input.
type errQuery struct{ msg string }

func (e *errQuery) Error() string { return e.msg }

// Is makes a refused query match dbservice.ErrInvalid (HTTP 400).
func (e *errQuery) Is(target error) bool { return target == dbservice.ErrInvalid }

func badQuery(msg string) error { return &errQuery{msg: msg} }

var limitRe = regexp.MustCompile(`^[0-9]{1,4}$`)

// parseListQuery turns a raw query string into a dbservice.Query.
func parseListQuery(raw string) (dbservice.Query, error) {
	var q dbservice.Query
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, badQuery("the query string is not well-formed")
	}
	for key, vs := range vals {
		switch key {
		case "where":
			if len(vs) > validate.MaxConds {
				return q, badQuery("at most " + strconv.Itoa(validate.MaxConds) + " where conditions")
			}
		case "limit", "cursor", "fields":
			if len(vs) != 1 {
				return q, badQuery(key + " may be given once")
			}
		default:
			return q, badQuery("unknown query parameter; use where, limit, cursor or fields")
		}
	}
	for i, w := range vals["where"] {
		c, err := parseWhere(w)
		if err != nil {
			return q, badQuery("where[" + strconv.Itoa(i) + "]: " + err.Error())
		}
		q.Where = append(q.Where, c)
	}
	if l, ok := vals["limit"]; ok {
		if !limitRe.MatchString(l[0]) {
			return q, badQuery("limit must be a number from 1 to " + strconv.Itoa(dbservice.MaxLimit))
		}
		n, _ := strconv.Atoi(l[0])
		if n < 1 || n > dbservice.MaxLimit {
			return q, badQuery("limit must be a number from 1 to " + strconv.Itoa(dbservice.MaxLimit))
		}
		q.Limit = n
	}
	if c, ok := vals["cursor"]; ok {
		if validate.Cursor(c[0]) != nil || c[0] == "" {
			return q, badQuery("cursor is not one this API issued")
		}
		q.Cursor = c[0]
	}
	if f, ok := vals["fields"]; ok {
		fields := strings.Split(f[0], ",")
		if len(fields) > validate.MaxFields {
			return q, badQuery("at most " + strconv.Itoa(validate.MaxFields) + " fields")
		}
		for _, p := range fields {
			if validate.FieldPath(p) != nil {
				return q, badQuery("fields must be dotted field paths of letters, digits, _ and -")
			}
		}
		q.Fields = fields
	}
	return q, nil
}

// parseWhere parses FIELD:OP:VALUE. Field paths cannot contain ':', so the
// first two colons split it unambiguously and the value may hold more.
func parseWhere(w string) (dbservice.Cond, error) {
	field, rest, ok1 := strings.Cut(w, ":")
	op, value, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return dbservice.Cond{}, errors.New("use FIELD:OP:VALUE")
	}
	if validate.FieldPath(field) != nil {
		return dbservice.Cond{}, errors.New("field must be a dotted path of letters, digits, _ and -")
	}
	if !slices.Contains(validate.Operators, op) {
		return dbservice.Cond{}, errors.New("operator must be one of " + strings.Join(validate.Operators, " "))
	}
	if len(value) > maxValueLen {
		return dbservice.Cond{}, errors.New("value longer than " + strconv.Itoa(maxValueLen) + " bytes")
	}
	v, err := decodeValue(value)
	if err != nil {
		return dbservice.Cond{}, err
	}
	switch v.(type) {
	case map[string]any:
		return dbservice.Cond{}, errors.New("value must not be a JSON object")
	case []any:
		if op != string(dbservice.In) {
			return dbservice.Cond{}, errors.New("only in takes a list")
		}
	}
	return dbservice.Cond{Field: field, Op: dbservice.Op(op), Value: v}, nil
}

// decodeValue decodes exactly one JSON value, numbers kept exact.
func decodeValue(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errors.New(`value must be JSON ("text", 42, true, null or a list for in)`)
	}
	if strings.Trim(s[dec.InputOffset():], " \t\r\n") != "" {
		return nil, errors.New("value must be a single JSON value")
	}
	return v, nil
}
