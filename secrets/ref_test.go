package secrets_test

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/secrets"
)

func TestParseRefAccepts(t *testing.T) {
	tests := []struct {
		name string
		ref  string
		want secrets.Ref
	}{
		{"an env reference has the variable as name", "env://DB_PASSWORD",
			secrets.Ref{Scheme: "env", Name: "DB_PASSWORD"}},
		{"a file reference keeps the absolute path and key", "file:///run/secrets/db#password",
			secrets.Ref{Scheme: "file", Name: "/run/secrets/db", Key: "password"}},
		{"an AWS ARN with colons is one name", "awssm://arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/couchdb-AbCdEf#password",
			secrets.Ref{Scheme: "awssm", Name: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/couchdb-AbCdEf", Key: "password"}},
		{"query parameters are parsed", "awssm://prod/couchdb?version-stage=AWSCURRENT&version-id=v1#password",
			secrets.Ref{Scheme: "awssm", Name: "prod/couchdb", Query: url.Values{"version-stage": {"AWSCURRENT"}, "version-id": {"v1"}}, Key: "password"}},
		{"a google resource name is the name", "gcpsm://projects/p/secrets/s/versions/latest#url",
			secrets.Ref{Scheme: "gcpsm", Name: "projects/p/secrets/s/versions/latest", Key: "url"}},
		{"the scheme is lower-cased", "ENV://X",
			secrets.Ref{Scheme: "env", Name: "X"}},
		{"percent-escapes in name and key are decoded", "file:///a%23b%3Fc#k%23ey",
			secrets.Ref{Scheme: "file", Name: "/a#b?c", Key: "k#ey"}},
		{"a '?' after '#' belongs to the key", "env://X#a?b",
			secrets.Ref{Scheme: "env", Name: "X", Key: "a?b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := secrets.ParseRef(tt.ref)
			if err != nil {
				t.Fatalf("ParseRef(%q): %v", tt.ref, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseRef(%q) = %#v, want %#v", tt.ref, got, tt.want)
			}
			again, err := secrets.ParseRef(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("String() = %q does not round-trip: %#v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseRefRefuses(t *testing.T) {
	tests := []struct {
		name string
		ref  string
	}{
		{"an empty string", ""},
		{"a plain value", "hunter2"},
		{"a scheme without ://", "env:X"},
		{"an empty scheme", "://X"},
		{"a scheme starting with a digit", "1env://X"},
		{"an empty name", "env://"},
		{"an empty name before a key", "env://#k"},
		{"an empty key", "env://X#"},
		{"an empty query", "awssm://x?"},
		{"a malformed query escape", "awssm://x?a=%zz"},
		{"a malformed name escape", "env://X%zz"},
		{"a control character", "env://X\x01"},
		{"an escaped NUL", "file:///a%00b"},
		{"a trailing newline", "env://X\n"},
		{"leading white space", " env://X"},
		{"invalid UTF-8", "env://X\xff"},
		{"a reference longer than MaxRefLen", "env://" + strings.Repeat("X", secrets.MaxRefLen)},
	}
	for _, tt := range tests {
		t.Run("it refuses "+tt.name, func(t *testing.T) {
			_, err := secrets.ParseRef(tt.ref)
			if !errors.Is(err, secrets.ErrInvalidRef) {
				t.Fatalf("ParseRef(%q) error = %v, want ErrInvalidRef", tt.ref, err)
			}
		})
	}
	t.Run("it does not echo input without a scheme, which may be a password", func(t *testing.T) {
		_, err := secrets.ParseRef(canary)
		if err == nil || strings.Contains(err.Error(), canary) {
			t.Fatalf("error %v", err)
		}
	})
}

func TestRefParam(t *testing.T) {
	tests := []struct {
		name    string
		ref     string
		want    string
		wantErr bool
	}{
		{"a present parameter is returned", "awssm://x?version-stage=S", "S", false},
		{"an absent parameter is empty", "awssm://x?version-id=V", "", false},
		{"an unknown parameter is refused", "awssm://x?version_stage=S", "", true},
		{"a repeated parameter is refused", "awssm://x?version-stage=A&version-stage=B", "", true},
		{"an empty parameter is refused", "awssm://x?version-stage=", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := secrets.ParseRef(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Param("version-stage", "version-stage", "version-id")
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Param = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, secrets.ErrInvalidRef) {
				t.Fatalf("error %v does not wrap ErrInvalidRef", err)
			}
		})
	}
}

func TestRefExtract(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		data    string
		want    string
		wantErr error
	}{
		{"no key returns the whole secret", "", `{"password":"x"}`, `{"password":"x"}`, nil},
		{"a key returns its string field", "password", `{"url":"http://h","username":"u","password":"` + canary + `"}`, canary, nil},
		{"escapes in the field are decoded", "password", `{"password":"a\"b\u00e9"}`, "a\"bé", nil},
		{"a missing key is not found", "password", `{"username":"` + canary + `"}`, "", secrets.ErrNotFound},
		{"a non-JSON secret is not found", "password", canary, "", secrets.ErrNotFound},
		{"a JSON array is not found", "password", `["` + canary + `"]`, "", secrets.ErrNotFound},
		{"JSON null is not found", "password", `null`, "", secrets.ErrNotFound},
		{"a number field is not a string", "port", `{"port":5984}`, "", secrets.ErrNotFound},
		{"trailing garbage is refused", "password", `{"password":"x"}` + canary, "", secrets.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := secrets.Ref{Scheme: "env", Name: "X", Key: tt.key}.Extract([]byte(tt.data))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Extract error = %v, want %v", err, tt.wantErr)
			}
			if s.Reveal() != tt.want {
				t.Fatalf("Extract = %q, want %q", s.Reveal(), tt.want)
			}
			if err != nil && (strings.Contains(err.Error(), canary) || !strings.Contains(err.Error(), tt.key)) {
				t.Fatalf("error %q must name key %q and not the value", err, tt.key)
			}
		})
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"env://X", "file:///run/secrets/db#password",
		"awssm://arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/couchdb-AbCdEf#password",
		"awssm://prod/couchdb?version-stage=AWSCURRENT&version-id=v#k",
		"gcpsm://projects/p/secrets/s/versions/latest#url", "a://%25?%3D=%26#%23",
		"x://a?b", "x://a#", "://", "hunter2", "env://X\n", "x://a?;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		r, err := secrets.ParseRef(ref)
		if err != nil {
			if !errors.Is(err, secrets.ErrInvalidRef) {
				t.Fatalf("ParseRef(%q) error %v does not wrap ErrInvalidRef", ref, err)
			}
			if _, ok := secrets.SchemeOf(ref); !ok {
				// Input without a scheme may be a password: the message must not
				// depend on it at all.
				other := "x"
				if len(ref) > secrets.MaxRefLen {
					other = strings.Repeat("x", secrets.MaxRefLen+1)
				}
				_, want := secrets.ParseRef(other)
				if err.Error() != want.Error() {
					t.Fatalf("ParseRef(%q) error %q depends on input that has no scheme", ref, err)
				}
			}
			return
		}
		if r.Name == "" || r.Scheme != strings.ToLower(r.Scheme) {
			t.Fatalf("ParseRef(%q) accepted %#v", ref, r)
		}
		again, err := secrets.ParseRef(r.String())
		if err != nil {
			t.Fatalf("ParseRef(%q).String() = %q does not parse: %v", ref, r.String(), err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip of %q via %q: got %#v, want %#v", ref, r.String(), again, r)
		}
	})
}
