package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
)

// Bearer tokens name their principal and carry an HMAC-SHA256 of it under
// the signing key from API_TOKEN: "sdb1.<principal>.<base64url mac>". One
// secret thus yields a token per client, audit records name the client,
// and the server stores no token list. Verification compares MACs with
// hmac.Equal, in constant time.

const tokenPrefix = "sdb1."

// minKeyLen is the shortest signing key accepted: 256 bits, the size of
// the MAC.
const minKeyLen = 32

var principalRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

var (
	errBadToken  = errors.New("invalid bearer token")
	errShortKey  = errors.New("API_TOKEN must be at least 32 bytes (for example: openssl rand -base64 32)")
	errPrincipal = errors.New("principal must match " + principalRe.String())
	errNoEntropy = errors.New("cannot read random bytes for a signing key")
)

// macDomain separates these MACs from any other use of the same key.
var macDomain = []byte("securedb-httpapi/v1\x00")

// tokenAuth mints and verifies bearer tokens with one signing key.
type tokenAuth struct {
	key []byte
}

func newTokenAuth(key []byte) (*tokenAuth, error) {
	if len(key) < minKeyLen {
		return nil, errShortKey
	}
	return &tokenAuth{key: append([]byte(nil), key...)}, nil
}

// randomTokenAuth returns a tokenAuth with a fresh random key, for a
// zero-setup run.
func randomTokenAuth() (*tokenAuth, error) {
	key := make([]byte, minKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, errNoEntropy
	}
	return &tokenAuth{key: key}, nil
}

func (a *tokenAuth) mac(principal string) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write(macDomain)
	m.Write([]byte(principal))
	return m.Sum(nil)
}

// mint returns the bearer token for principal.
func (a *tokenAuth) mint(principal string) (string, error) {
	if !principalRe.MatchString(principal) {
		return "", errPrincipal
	}
	return tokenPrefix + principal + "." + base64.RawURLEncoding.EncodeToString(a.mac(principal)), nil
}

// verify returns the principal of a valid token. Every failure is the same
// error, so a client learns nothing about which part was wrong.
func (a *tokenAuth) verify(token string) (string, error) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok || len(token) > 256 {
		return "", errBadToken
	}
	principal, sig, ok := strings.Cut(rest, ".")
	if !ok || !principalRe.MatchString(principal) {
		return "", errBadToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac(principal)) {
		return "", errBadToken
	}
	return principal, nil
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
