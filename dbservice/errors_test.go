package dbservice_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
)

func TestErrorsMapToStatusAndKind(t *testing.T) {
	cases := []struct {
		err    error
		status int
		kind   string
	}{
		{nil, http.StatusOK, ""},
		{dbservice.ErrNotFound, http.StatusNotFound, "not_found"},
		{dbservice.ErrConflict, http.StatusConflict, "conflict"},
		{dbservice.ErrInvalid, http.StatusBadRequest, "invalid"},
		{dbservice.ErrUnauthorized, http.StatusUnauthorized, "unauthorized"},
		{dbservice.ErrForbidden, http.StatusForbidden, "forbidden"},
		{dbservice.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
		{dbservice.ErrClosed, http.StatusServiceUnavailable, "closed"},
		{dbservice.ErrInsecure, http.StatusInternalServerError, "insecure"},
		{context.DeadlineExceeded, http.StatusGatewayTimeout, "deadline"},
		{context.Canceled, dbservice.StatusClientClosedRequest, "canceled"},
		{errors.New("boom"), http.StatusInternalServerError, "internal"},
	}
	for _, c := range cases {
		wrapped := error(nil)
		if c.err != nil {
			wrapped = dbservice.NewError("get", "memory", "agents", "a1", fmt.Errorf("%w: detail", c.err))
		}
		if got := dbservice.HTTPStatus(wrapped); got != c.status {
			t.Errorf("HTTPStatus(%v) = %d, want %d", wrapped, got, c.status)
		}
		if got := dbservice.ErrorKind(wrapped); got != c.kind {
			t.Errorf("ErrorKind(%v) = %q, want %q", wrapped, got, c.kind)
		}
	}
}

func TestErrorStringNamesTheTargetAndQuotesHostileInput(t *testing.T) {
	e := dbservice.NewError("get", "couchdb", "agents", "a1", dbservice.ErrNotFound)
	if got, want := e.Error(), "securedb: couchdb get agents/a1: not found"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	hostile := dbservice.NewError("get", "guard", "agents", "x\n"+strings.Repeat("y", 50)+"TAIL", dbservice.ErrInvalid)
	if s := hostile.Error(); strings.Contains(s, "\n") || strings.Contains(s, "TAIL") {
		t.Fatalf("hostile ID echoed: %q", s)
	}
}

func TestEnvBool(t *testing.T) {
	for _, c := range []struct {
		val      string
		v, set   bool
		wantFail bool
	}{{"", false, false, false}, {" true ", true, true, false}, {"0", false, true, false}, {"yes-please", false, false, true}} {
		t.Setenv("SECUREDB_TEST_BOOL", c.val)
		v, set, err := dbservice.EnvBool("SECUREDB_TEST_BOOL")
		if v != c.v || set != c.set || (err != nil) != c.wantFail {
			t.Errorf("EnvBool with %q = %v, %v, %v", c.val, v, set, err)
		}
		if err != nil && (!errors.Is(err, dbservice.ErrInvalid) || strings.Contains(err.Error(), c.val)) {
			t.Errorf("error %v must be ErrInvalid and not echo the value", err)
		}
	}
}
