package dbservice

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
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
	// scratch holds *cursorScratch: every page signs or checks a cursor,
	// and a keyed HMAC that Reset restores from its saved state is cheaper
	// than hmac.New, which hashes two key blocks and allocates five objects.
	scratch sync.Pool
}

// cursorScratch is what one Encode or Decode works in: the signer's keyed
// HMAC, a JSON encoder writing to buf, raw for the cursor's bytes (state
// JSON ‖ tag), msg for the message the tag covers (and then the cursor's
// text), sum for the tag.
type cursorScratch struct {
	mac hash.Hash
	buf bytes.Buffer
	enc *json.Encoder
	raw []byte
	msg []byte
	sum [sha256.Size]byte
	q   cursorQuery
}

// cursorQuery is the part of a query a cursor is bound to. The encoding
// of its fields (names, omitempty) is part of the cursor format.
type cursorQuery struct {
	W []Cond
	F []string
	O []Order `json:",omitempty"`
}

// maxPooledScratch bounds the buffers kept for reuse, so that one huge
// query does not pin its memory in the pool.
const maxPooledScratch = 64 << 10

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
	s = s.orDefault()
	sc := s.getScratch()
	defer s.putScratch(sc)
	payload, err := sc.json(state)
	if err != nil {
		return "", err
	}
	sc.raw = append(sc.raw[:0], payload...) // tag reuses buf
	sum := s.tag(sc, collection, q, sc.raw)
	sc.raw = append(sc.raw, sum...)
	sc.msg = base64.RawURLEncoding.AppendEncode(sc.msg[:0], sc.raw)
	return string(sc.msg), nil
}

// Decode reads a cursor that Encode made, with the same key, collection
// and query, into state. Anything else is ErrInvalid. Providers must still
// validate the state's contents (an ID in it, for example): the tag proves
// the state came from a provider holding the key, not that it is sound.
func (s *CursorSigner) Decode(collection string, q Query, cursor string, state any) error {
	if err := validate.Cursor(cursor); err != nil {
		return err
	}
	s = s.orDefault()
	sc := s.getScratch()
	defer s.putScratch(sc)
	sc.msg = append(sc.msg[:0], cursor...)
	raw, err := base64.RawURLEncoding.AppendDecode(sc.raw[:0], sc.msg)
	sc.raw = raw
	if err != nil || len(raw) < sha256.Size {
		return errForeignCursor()
	}
	payload, got := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	if !hmac.Equal(got, s.tag(sc, collection, q, payload)) {
		return errForeignCursor()
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(state); err != nil || dec.More() {
		return errForeignCursor()
	}
	return nil
}

// errForeignCursor is Decode's one answer to a cursor it did not issue,
// whatever is wrong with it.
func errForeignCursor() error {
	return &validate.Error{Field: "query.cursor", Reason: "not a cursor this service issued for this query and collection"}
}

// getScratch returns a scratch with an empty buffer and an HMAC under s's
// key, reset.
func (s *CursorSigner) getScratch() *cursorScratch {
	sc, _ := s.scratch.Get().(*cursorScratch)
	if sc == nil {
		sc = &cursorScratch{mac: hmac.New(sha256.New, s.key)}
		sc.enc = json.NewEncoder(&sc.buf)
	}
	sc.mac.Reset()
	return sc
}

// putScratch returns sc to the pool without references into the query it
// worked on, unless one huge cursor or query grew it.
func (s *CursorSigner) putScratch(sc *cursorScratch) {
	sc.q = cursorQuery{}
	if sc.buf.Cap() > maxPooledScratch || cap(sc.raw) > maxPooledScratch || cap(sc.msg) > maxPooledScratch {
		return
	}
	sc.buf.Reset()
	s.scratch.Put(sc)
}

// json returns what json.Marshal returns for v, in sc.buf, which it
// empties first.
func (sc *cursorScratch) json(v any) ([]byte, error) {
	sc.buf.Reset()
	if err := sc.enc.Encode(v); err != nil {
		return nil, err
	}
	sc.buf.Truncate(sc.buf.Len() - 1) // the newline Encode ends with
	return sc.buf.Bytes(), nil
}

// tag returns the HMAC of the cursor's context, collection, query and
// payload, in sc.sum; it uses sc.buf and sc.msg, so payload must be in
// neither. Lengths prefix the variable parts, so no two inputs share an
// encoding.
func (s *CursorSigner) tag(sc *cursorScratch, collection string, q Query, payload []byte) []byte {
	// Conditions and fields are already validated and normalized, so their
	// JSON encoding is deterministic. The query is passed by pointer so
	// that it need not be copied into an interface.
	sc.q = cursorQuery{q.Where, q.Fields, q.OrderBy}
	qj, err := sc.json(&sc.q)
	if err != nil {
		qj = nil // as json.Marshal's result was, unchecked, before
	}
	msg := sc.msg[:0]
	msg = appendPart(msg, cursorContext)
	msg = appendPart(msg, collection)
	msg = appendPart(msg, qj)
	msg = appendPart(msg, payload)
	sc.msg = msg
	sc.mac.Write(msg)
	return sc.mac.Sum(sc.sum[:0])
}

// appendPart appends part to msg as its decimal length, ':' and its bytes.
func appendPart[T string | []byte](msg []byte, part T) []byte {
	msg = strconv.AppendInt(msg, int64(len(part)), 10)
	msg = append(msg, ':')
	return append(msg, part...)
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
