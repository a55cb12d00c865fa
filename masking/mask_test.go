package masking

import (
	"regexp"
	"strings"
	"testing"
)

// R is the default replacement, short for the tables below.
const R = DefaultReplacement

type maskCase struct {
	name, in, want string
}

func runMaskCases(t *testing.T, m *Masker, cases []maskCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := m.Mask(tc.in)
			if got != tc.want {
				t.Errorf("Mask(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if again := m.Mask(got); again != got {
				t.Errorf("Mask is not idempotent: %q", again)
			}
		})
	}
}

func TestMaskURLUserinfo(t *testing.T) {
	runMaskCases(t, defaultMasker, []maskCase{
		{"a password in a URL is masked and the user and host stay",
			"https://user:pw@host/x", "https://user:" + R + "@host/x"},
		{"a postgres DSN keeps scheme, user, host, port and database",
			"dial postgres://app:s3cr3t@db.internal:5432/orders failed",
			"dial postgres://app:" + R + "@db.internal:5432/orders failed"},
		{"an empty user name still hides the password",
			"redis://:hunter2@cache:6379/0", "redis://:" + R + "@cache:6379/0"},
		{"a password with @ and / in it is masked whole",
			"mongodb://u:p@ss/w0rd@h:27017/db", "mongodb://u:" + R + "@h:27017/db"},
		{"a MySQL driver DSN without a scheme is masked",
			"dsn root:toor@tcp(127.0.0.1:3306)/app", "dsn root:" + R + "@tcp(127.0.0.1:3306)/app"},
		{"a URL inside a JSON string is masked in place",
			`{"url":"amqp://guest:guest@rabbit:5672/"}`, `{"url":"amqp://guest:` + R + `@rabbit:5672/"}`},
		{"an ordinary URL stays", "GET https://example.com/a/b?q=1#top", "GET https://example.com/a/b?q=1#top"},
		{"a URL with only a user name stays", "ssh://git@github.com/org/repo", "ssh://git@github.com/org/repo"},
		{"a URL with a port and an @ in the path stays",
			"https://registry.npmjs.org:443/@types/node", "https://registry.npmjs.org:443/@types/node"},
		{"an e-mail address stays", "mail ana@example.com", "mail ana@example.com"},
	})
}

func TestMaskPairs(t *testing.T) {
	runMaskCases(t, defaultMasker, []maskCase{
		{"a JSON password is masked",
			`{"user":"ana","password":"hunter2"}`, `{"user":"ana","password":"` + R + `"}`},
		{"a JSON password with spaces around the colon is masked",
			`{"password" : "a b c"}`, `{"password" : "` + R + `"}`},
		{"an escaped quote does not end a JSON value early",
			`{"secret":"a\"b","n":1}`, `{"secret":"` + R + `","n":1}`},
		{"a JSON number under a sensitive key becomes a JSON string",
			`{"n":1,"token":12345}`, `{"n":1,"token":"` + R + `"}`},
		{"a JSON object under a sensitive key is replaced whole",
			`{"credentials":{"user":"a","pw":"b"},"ok":true}`, `{"credentials":"` + R + `","ok":true}`},
		{"a JSON array under a sensitive key is replaced whole",
			`{"api_keys":["a","b"]}`, `{"api_keys":"` + R + `"}`},
		{"JSON null and booleans under sensitive keys stay",
			`{"password":null,"secret":false}`, `{"password":null,"secret":false}`},
		{"escaped JSON inside a JSON string is masked",
			`{"body":"{\"password\":\"x1\"}"}`, `{"body":"{\"password\":\"` + R + `\"}"}`},
		{"key=value is masked", "user=ana password=hunter2 ok", "user=ana password=" + R + " ok"},
		{"key = value with spaces is masked", "db_password = hunter2", "db_password = " + R},
		{"a logfmt quoted value is masked whole", `api_key="a b c" n=1`, `api_key="` + R + `" n=1`},
		{"a single-quoted value is masked", `{'client_secret': 'abc'}`, `{'client_secret': '` + R + `'}`},
		{"query parameters are masked",
			"GET /cb?code=1&access_token=abc123&state=x", "GET /cb?code=1&access_token=" + R + "&state=x"},
		{"key: value is masked", "login failed, password: hunter2 for ana", "login failed, password: " + R + " for ana"},
		{"a YAML line is masked to its end", "db:\n  password: correct horse battery\n  host: db",
			"db:\n  password: " + R + "\n  host: db"},
		{"Go's %v of a struct is masked", "{User:ana Password:hunter2 Port:5432}", "{User:ana Password:" + R + " Port:5432}"},
		{"Go's %v of http.Header keeps the scheme",
			"map[Authorization:[Bearer abc.def] Accept:[*/*]]", "map[Authorization:[Bearer " + R + "] Accept:[*/*]]"},
		{"an ODBC connection string is masked", "Server=db;Uid=sa;Pwd=S3cr3t!;Encrypt=true",
			"Server=db;Uid=sa;Pwd=" + R + ";Encrypt=true"},
		{"keys match across case and separators",
			"apiKey=a1 API-KEY=b2 x_api_key=c3 ApiKey: d4",
			"apiKey=" + R + " API-KEY=" + R + " x_api_key=" + R + " ApiKey: " + R},
		{"comparisons in code are not pairs", "if password == nil && token != x", "if password == nil && token != x"},
		{"the word password in prose stays", "reset your password please", "reset your password please"},
		{"a sensitive word as a value stays", "field=password kind=token", "field=password kind=token"},
		{"counters named after tokens stay", "token_count=512 max_tokens=1024", "token_count=512 max_tokens=1024"},
	})
}

func TestMaskHeaders(t *testing.T) {
	runMaskCases(t, defaultMasker, []maskCase{
		{"a bearer header keeps the scheme", "Authorization: Bearer abc.def-ghi", "Authorization: Bearer " + R},
		{"a basic header keeps the scheme", "Authorization: Basic YW5hOmh1bnRlcjI=", "Authorization: Basic " + R},
		{"a lower-case scheme after the key is masked too", "authorization: bearer opaque", "authorization: bearer " + R},
		{"a header in the middle of a line is masked",
			"curl -H 'Authorization: Bearer tok3n' url", "curl -H 'Authorization: Bearer " + R + "' url"},
		{"a standalone bearer credential is masked", "sent Bearer a1b2c3d4e5f6 upstream", "sent Bearer " + R + " upstream"},
		{"a cookie header is masked to the end of the line",
			"Cookie: theme=dark; session=abc\nnext", "Cookie: " + R + "\nnext"},
		{"a Set-Cookie header is masked", "Set-Cookie: sid=1; Path=/; HttpOnly", "Set-Cookie: " + R},
		{"prose after Basic stays", "Basic setup complete", "Basic setup complete"},
		{"a lower-case bearer in prose stays", "token_type=bearer bearer 550e8400-e29b-41d4",
			"token_type=bearer bearer 550e8400-e29b-41d4"},
	})
}

func TestMaskTokens(t *testing.T) {
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	runMaskCases(t, New(&Options{DisableLongTokens: true}), []maskCase{
		{"an AWS access key ID is masked", "key AKIAIOSFODNN7EXAMPLE used", "key " + R + " used"},
		{"an AWS temporary key ID is masked", "ASIAY34FZKBOKMUTVV7A", R},
		{"an AWS secret key is masked by its key",
			"aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key=" + R},
		{"an AWS secret key in SDK JSON is masked",
			`{"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG"}`,
			`{"AccessKeyId":"` + R + `","SecretAccessKey":"` + R + `"}`},
		{"a GitHub token is masked", "ghp_" + strings.Repeat("a1", 18) + " pushed", R + " pushed"},
		{"a GitHub fine-grained token is masked", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", R},
		{"a Slack token is masked", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp", R},
		{"a Stripe secret key is masked", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", R},
		{"a Stripe publishable key stays", "pk_live_4eC39HqLyjWDarjtT1zdp7dc", "pk_live_4eC39HqLyjWDarjtT1zdp7dc"},
		{"a Google API key is masked", "key=x&k2=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe", "key=x&k2=" + R},
		{"a JWT is masked", "id " + jwt + ".", "id " + R + "."},
		{"a token glued to a word stays", "xAKIAIOSFODNN7EXAMPLE", "xAKIAIOSFODNN7EXAMPLE"},
		{"a too-short prefix match stays", "ghp_short sk_live_x AKIA", "ghp_short sk_live_x AKIA"},
		{"a git SHA stays with long tokens off", "commit 3f786850e387550fdab836ed7e6dc881de23001b",
			"commit 3f786850e387550fdab836ed7e6dc881de23001b"},
		{"a UUID stays", "id 550e8400-e29b-41d4-a716-446655440000", "id 550e8400-e29b-41d4-a716-446655440000"},
	})
}

func TestMaskPEM(t *testing.T) {
	block := "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx\nb2c3=\n-----END RSA PRIVATE KEY-----"
	runMaskCases(t, defaultMasker, []maskCase{
		{"a private key body is masked, the armor lines stay", "key:\n" + block + "\ndone",
			"key:\n-----BEGIN RSA PRIVATE KEY-----\n" + R + "\n-----END RSA PRIVATE KEY-----\ndone"},
		{"a private key with PEM headers is masked",
			"-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,AB\n\nMHcCAQEE\n-----END EC PRIVATE KEY-----",
			"-----BEGIN EC PRIVATE KEY-----\n" + R + "\n-----END EC PRIVATE KEY-----"},
		{"a private key in a JSON string is masked",
			`{"key":"-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----\n"}`,
			`{"key":"-----BEGIN PRIVATE KEY-----` + R + `-----END PRIVATE KEY-----\n"}`},
		{"a cut-off private key is masked and the prose after it stays",
			"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\nthen it crashed",
			"-----BEGIN OPENSSH PRIVATE KEY-----\n" + R + "\nthen it crashed"},
		{"a cut-off private key in JSON is masked up to the quote",
			`{"k":"-----BEGIN PRIVATE KEY-----\nMIIE\nABCD"}`, `{"k":"-----BEGIN PRIVATE KEY-----` + R + `"}`},
		{"a certificate stays", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
			"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},
	})
}

func TestMaskLongTokens(t *testing.T) {
	runMaskCases(t, defaultMasker, []maskCase{
		{"a 40-character mixed token is masked", "t=x " + strings.Repeat("aB3d", 10) + " end", "t=x " + R + " end"},
		{"an AWS secret key without context is masked", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", R},
		{"a git SHA is masked while the rule is on", "commit 3f786850e387550fdab836ed7e6dc881de23001b", "commit " + R},
		{"a 39-character token stays", strings.Repeat("aB3", 13), strings.Repeat("aB3", 13)},
		{"a long run of one character class stays", "/usr/local/share/somewhere/deep/inside/the/tree",
			"/usr/local/share/somewhere/deep/inside/the/tree"},
	})
	t.Run("turning the rule off keeps hashes", func(t *testing.T) {
		in := "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
		if got := New(&Options{DisableLongTokens: true}).Mask(in); got != in {
			t.Errorf("got %q", got)
		}
	})
}

func TestMaskOptions(t *testing.T) {
	t.Run("extra keys are masked wherever they appear in a key", func(t *testing.T) {
		m := New(&Options{Keys: []string{"SSN"}})
		got := m.Mask("customer_ssn=123-45-6789 name=ana")
		if want := "customer_ssn=" + R + " name=ana"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("allowed keys are not masked by key", func(t *testing.T) {
		m := New(&Options{AllowKeys: []string{"secret_ref"}})
		got := m.Mask("secret_ref=vault/db secret=x")
		if want := "secret_ref=vault/db secret=" + R; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("a pattern masks its secret group only", func(t *testing.T) {
		m := New(&Options{Patterns: []*regexp.Regexp{regexp.MustCompile(`pin (?P<secret>\d{4})\b`)}})
		if got, want := m.Mask("card pin 1234 ok"), "card pin "+R+" ok"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("a pattern without a secret group masks its whole match", func(t *testing.T) {
		m := New(&Options{Patterns: []*regexp.Regexp{regexp.MustCompile(`\bcorp-[0-9a-f]{8}\b`)}})
		if got, want := m.Mask("x corp-deadbeef y"), "x "+R+" y"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("the replacement text can be changed", func(t *testing.T) {
		m := New(&Options{Replacement: "***"})
		got := m.Mask(`password=a {"token":1} https://u:p@h`)
		if want := `password=*** {"token":"***"} https://u:***@h`; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		if again := m.Mask(got); again != got {
			t.Errorf("not idempotent: %q", again)
		}
	})
}

func TestMaskReturnsTheInputWhenNothingIsMasked(t *testing.T) {
	in := "user ana logged in from 10.0.0.1"
	if got := Mask(in); got != in {
		t.Fatalf("got %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { Mask(in) }); n != 0 {
		t.Errorf("Mask allocated %v times on secret-free text", n)
	}
}
