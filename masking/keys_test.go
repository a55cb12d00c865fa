package masking

import "testing"

func TestSensitiveKey(t *testing.T) {
	m := New(nil)
	for _, tc := range []struct {
		name string
		keys []string
		want bool
	}{
		{"the listed names are sensitive", []string{
			"password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "access_key",
			"secret_access_key", "authorization", "cookie", "set-cookie", "session", "private_key",
			"client_secret", "credentials", "dsn", "connection_string"}, true},
		{"case and separators do not matter", []string{
			"apiKey", "API-KEY", "x_api_key", "Api.Key", "X-Api-Key", "PASSWORD", "Pass_Word"}, true},
		{"a name inside a longer key counts", []string{
			"db_password", "dbpassword", "userPassword", "password_hash", "aws_secret_access_key",
			"X-Amz-Credential", "oauth_client_secret", "Proxy-Authorization"}, true},
		{"keys ending in token, session or dsn count", []string{
			"access_token", "refreshToken", "csrftoken", "X-Auth-Token", "user_session", "session_id",
			"sessionId", "JSESSIONID", "PHPSESSID", "sentry_dsn", "X-Amz-Signature", "db_pwd"}, true},
		{"short names count only as the whole key", []string{"pass", "pw", "auth", "sig", "Bearer"}, true},
		{"words that merely contain secret are masked, by design", []string{"secret_ref", "secretary"}, true},
		{"ordinary keys are not sensitive", []string{
			"user", "msg", "level", "time", "id", "path", "status", "key", "user_id", "remote_addr"}, false},
		{"counters named after tokens or sessions are not sensitive", []string{
			"token_count", "max_tokens", "tokens", "token_type", "token_expiry", "session_duration",
			"session_count", "tokenizer"}, false},
		{"short names inside longer words are not sensitive", []string{
			"bypass", "compass", "passenger", "oauth", "author", "signal", "design", "cwd"}, false},
		{"an empty key is not sensitive", []string{"", "_-."}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range tc.keys {
				if got := m.SensitiveKey(k); got != tc.want {
					t.Errorf("SensitiveKey(%q) = %v, want %v", k, got, tc.want)
				}
			}
		})
	}
}

func TestSensitiveKeyOptions(t *testing.T) {
	m := New(&Options{Keys: []string{"card-number", "pin"}, AllowKeys: []string{"Secret_Ref", "pass"}})
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"cardNumber", true},
		{"customer_card_number", true},
		{"pin_code", true},
		{"secret_ref", false},
		{"secretRef", false},
		{"pass", false},
		{"secret", true},
		{"db_password", true},
	} {
		t.Run(tc.key, func(t *testing.T) {
			if got := m.SensitiveKey(tc.key); got != tc.want {
				t.Errorf("SensitiveKey(%q) = %v, want %v", tc.key, got, tc.want)
			}
		})
	}
}

func TestSensitiveKeyDoesNotAllocate(t *testing.T) {
	m := New(nil)
	if n := testing.AllocsPerRun(100, func() { m.SensitiveKey("remote_addr") }); n != 0 {
		t.Errorf("SensitiveKey allocated %v times", n)
	}
}
