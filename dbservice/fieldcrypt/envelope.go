package fieldcrypt

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
)

// The stored form of an encrypted field is text that says how to read it:
//
//	sdbenc:v1:<mode>:<key id>:<ciphertext>
//
// mode is "r" (Randomized) or "d" (Deterministic), the key ID is the Tink
// key ID of the data key that encrypted it (8 hex digits) and the
// ciphertext is Tink's output in unpadded base64url. Everything before the
// ciphertext is authenticated as associated data, so a header edited to
// name another mode or key fails to decrypt.
const (
	envelopePrefix = "sdbenc:"
	envelopeV1     = "v1"
)

// maxEnvelopeLen bounds what the parser looks at: far above any field a
// provider admits, so a hostile stored value cannot make it decode
// megabytes.
const maxEnvelopeLen = 4 << 20

// envelope is a parsed stored field.
type envelope struct {
	mode  Mode
	keyID uint32
	ct    []byte
}

var errNotEnvelope = errors.New("not an encrypted field")

// header is the authenticated part of the stored text, without the final
// colon.
func (e envelope) header() string {
	return envelopePrefix + envelopeV1 + ":" + e.mode.letter() + ":" + hex8(e.keyID)
}

// String is the stored text.
func (e envelope) String() string {
	return e.header() + ":" + base64.RawURLEncoding.EncodeToString(e.ct)
}

func hex8(id uint32) string {
	s := strconv.FormatUint(uint64(id), 16)
	return strings.Repeat("0", 8-len(s)) + s
}

// parseEnvelope reads the stored text of an encrypted field. It never
// returns part of s in its error.
func parseEnvelope(s string) (envelope, error) {
	if len(s) > maxEnvelopeLen || !strings.HasPrefix(s, envelopePrefix) {
		return envelope{}, errNotEnvelope
	}
	rest := s[len(envelopePrefix):]
	parts := strings.SplitN(rest, ":", 4)
	if len(parts) != 4 || parts[0] != envelopeV1 {
		return envelope{}, errNotEnvelope
	}
	var e envelope
	switch parts[1] {
	case "r":
		e.mode = Randomized
	case "d":
		e.mode = Deterministic
	default:
		return envelope{}, errNotEnvelope
	}
	if len(parts[2]) != 8 {
		return envelope{}, errNotEnvelope
	}
	id, err := strconv.ParseUint(parts[2], 16, 32)
	if err != nil || hex8(uint32(id)) != parts[2] {
		// One spelling per key ID (lower-case hex), so equal
		// plaintexts under one deterministic key give equal text.
		return envelope{}, errNotEnvelope
	}
	e.keyID = uint32(id)
	ct, err := base64.RawURLEncoding.Strict().DecodeString(parts[3])
	if err != nil || len(ct) == 0 {
		return envelope{}, errNotEnvelope
	}
	e.ct = ct
	return e, nil
}

// associatedData binds a ciphertext to where it belongs. Every part is
// length-prefixed, so no two different bindings share an encoding.
// Randomized fields bind the document ID; deterministic fields cannot,
// since equal plaintexts must give equal ciphertexts in every document
// for equality queries to find them.
func associatedData(header, collection, id, path string, mode Mode) []byte {
	b := make([]byte, 0, 16+len(header)+len(collection)+len(id)+len(path))
	for _, part := range []string{"securedb fieldcrypt v1", header, collection, path} {
		b = binary.AppendUvarint(b, uint64(len(part)))
		b = append(b, part...)
	}
	if mode == Randomized {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
	}
	return b
}
