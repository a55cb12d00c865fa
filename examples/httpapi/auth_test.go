package main

import (
	"strings"
	"testing"
)

func TestTokens(t *testing.T) {
	key := []byte("test-signing-key-0123456789abcdef")
	auth, err := newTokenAuth(key)
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := auth.mint("alice")
	other, _ := newTokenAuth([]byte("another-signing-key-0123456789abc"))
	forged, _ := other.mint("alice")
	sig := alice[strings.LastIndex(alice, ".")+1:]

	cases := []struct {
		name  string
		token string
		want  string // principal, "" when refused
	}{
		{"a minted token names its principal", alice, "alice"},
		{"a token of another key is refused", forged, ""},
		{"a signature moved to another principal is refused", "sdb1.admin." + sig, ""},
		{"a truncated signature is refused", alice[:len(alice)-2], ""},
		{"a token without the version prefix is refused", strings.TrimPrefix(alice, "sdb1."), ""},
		{"an upper-case principal is refused", "sdb1.Alice." + sig, ""},
		{"an empty token is refused", "", ""},
		{"an oversize token is refused", alice + strings.Repeat("A", 300), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := auth.verify(tc.token)
			if got != tc.want || (tc.want == "") != (err != nil) {
				t.Errorf("verify = %q, %v; want %q", got, err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), tc.token) && tc.token != "" {
				t.Errorf("error repeats the token: %v", err)
			}
		})
	}
}

func TestTokenAuthRefusesShortKeysAndBadPrincipals(t *testing.T) {
	if _, err := newTokenAuth([]byte("short")); err == nil {
		t.Error("a 5-byte signing key was accepted")
	}
	auth, _ := randomTokenAuth()
	for _, p := range []string{"", "Admin", "a b", "../x", strings.Repeat("a", 65)} {
		if _, err := auth.mint(p); err == nil {
			t.Errorf("minted a token for principal %q", p)
		}
	}
}

func TestBearer(t *testing.T) {
	for _, tc := range []struct {
		header, token string
		ok            bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"Basic abc", "", false},
		{"Bearer ", "", false},
		{"Bearerabc", "", false},
		{"", "", false},
	} {
		if token, ok := bearer(tc.header); token != tc.token || ok != tc.ok {
			t.Errorf("bearer(%q) = %q, %v", tc.header, token, ok)
		}
	}
}
