package dbservice

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/securedb-go/securedb/validate"
)

// A cursor is base64url(state JSON ‖ tag), where tag is HMAC-SHA256 under
// the provider's cursor key of a context string, the collection, the query
// (conditions and projection, not the page size) and the state. A client
// can read a cursor but not make one: a forged, tampered or replayed
// cursor (another query, another collection, another key) fails the tag
// and is ErrInvalid, before its state is even decoded.

// MinCursorKeyLen is the shortest cursor key NewCursorSigner accepts, in
// bytes: HMAC-SHA256's full strength needs 32 random bytes.
const MinCursorKeyLen = 32

// ItemCursorKey is the posture item that says whether page cursors are
// signed with a key every instance of the service shares.
const ItemCursorKey = "cursor-key"

// cursorContext separates cursor tags from any other use of the key.
const cursorContext = "securedb cursor v1"

// CursorSigner authenticates page cursors with HMAC-SHA256. Every instance
// of a service behind one endpoint must use the same key, so that a cursor
// one instance issued is accepted by the next (behind a load balancer, and
// after a restart). Providers hold one (from their Config) and call Encode
// and Decode; a nil *CursorSigner stands for ProcessCursorSigner.
//
// A CursorSigner never prints its key: every fmt verb, slog and JSON show
// only whether the key is configured.
type CursorSigner struct {
	key       []byte
	ephemeral bool
}

// NewCursorSigner returns a signer for key, which must hold at least
// MinCursorKeyLen bytes (use random bytes from a secret manager, such as
// the output of `openssl rand -base64 32`). An empty key returns
// ProcessCursorSigner. The key is copied.
func NewCursorSigner(key []byte) (*CursorSigner, error) {
	if len(key) == 0 {
		return ProcessCursorSigner(), nil
	}
	if len(key) < MinCursorKeyLen {
		return nil, &validate.Error{Field: "cursor key", Reason: "shorter than " + strconv.Itoa(MinCursorKeyLen) + " bytes"}
	}
	return &CursorSigner{key: bytes.Clone(key)}, nil
}

var processSigner = sync.OnceValue(func() *CursorSigner {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24)
	return &CursorSigner{key: key, ephemeral: true}
})

// ProcessCursorSigner returns the signer every provider uses when it is
// given no key: a random key made once per process. Its cursors stop
// working when the process restarts and on every other instance of the
// service, which the posture item ItemCursorKey reports.
func ProcessCursorSigner() *CursorSigner { return processSigner() }

func (s *CursorSigner) orDefault() *CursorSigner {
	if s == nil {
		return ProcessCursorSigner()
	}
	return s
}

// Ephemeral reports whether s signs with the per-process random key.
func (s *CursorSigner) Ephemeral() bool { return s.orDefault().ephemeral }

// Encode returns an opaque cursor holding state (any JSON-encodable
// provider position) for collection and q.
func (s *CursorSigner) Encode(collection string, q Query, state any) (string, error) {
	payload, err := json.Marshal(state)
	if err != nil {
		return "", err
	}
	out := s.orDefault().tag(nil, collection, q, payload)
	return base64.RawURLEncoding.EncodeToString(append(payload, out...)), nil
}

// Decode reads a cursor that Encode made, with the same key, collection
// and query, into state. Anything else is ErrInvalid. Providers must still
// validate the state's contents (an ID in it, for example): the tag proves
// the state came from a provider holding the key, not that it is sound.
func (s *CursorSigner) Decode(collection string, q Query, cursor string, state any) error {
	bad := &validate.Error{Field: "query.cursor", Reason: "not a cursor this service issued for this query and collection"}
	if err := validate.Cursor(cursor); err != nil {
		return err
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) < sha256.Size {
		return bad
	}
	payload, got := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	if !hmac.Equal(got, s.orDefault().tag(nil, collection, q, payload)) {
		return bad
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(state); err != nil || dec.More() {
		return bad
	}
	return nil
}

// tag appends the HMAC of the cursor's context, collection, query and
// payload to dst. Lengths prefix the variable parts, so no two inputs
// share an encoding.
func (s *CursorSigner) tag(dst []byte, collection string, q Query, payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	// Conditions and fields are already validated and normalized, so their
	// JSON encoding is deterministic.
	qj, _ := json.Marshal(struct {
		W []Cond
		F []string
		O []Order `json:",omitempty"`
	}{q.Where, q.Fields, q.OrderBy})
	for _, part := range [][]byte{[]byte(cursorContext), []byte(collection), qj, payload} {
		m.Write(strconv.AppendInt(nil, int64(len(part)), 10))
		m.Write([]byte{':'})
		m.Write(part)
	}
	return m.Sum(dst)
}

// Finding reports ItemCursorKey: Pass with a configured key, Warn with the
// per-process one.
func (s *CursorSigner) Finding() Finding {
	f := Finding{ID: ItemCursorKey, Title: "Page cursors are signed with a key every instance shares"}
	if s.Ephemeral() {
		f.Status = Warn
		f.Detail = "page cursors are signed (HMAC-SHA256) with a random key of this process: they stop working after a restart and on any other instance behind a load balancer"
		f.Fix = "set SECUREDB_CURSOR_KEY (securedb.Config.CursorKey) to a secret reference, such as awssm://prod/app#cursor_key, holding at least 32 random bytes that every instance shares"
		return f
	}
	f.Status = Pass
	f.Detail = "page cursors are signed (HMAC-SHA256) with the configured cursor key, so forged or altered cursors are refused on every instance"
	return f
}

// String describes the signer without its key.
func (s *CursorSigner) String() string {
	if s.Ephemeral() {
		return "dbservice.CursorSigner{key: per-process}"
	}
	return "dbservice.CursorSigner{key: [REDACTED]}"
}

// GoString implements fmt.GoStringer with the same text as String.
func (s *CursorSigner) GoString() string { return s.String() }

// Format implements fmt.Formatter, so that no verb prints the key.
func (s *CursorSigner) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalJSON implements json.Marshaler without the key.
func (s *CursorSigner) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue implements slog.LogValuer without the key.
func (s *CursorSigner) LogValue() slog.Value { return slog.StringValue(s.String()) }
