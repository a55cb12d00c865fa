// Package masking keeps credentials out of logs: it masks secrets in
// log/slog records, in any io.Writer stream, and in plain strings.
//
// Three entry points share one engine (a [Masker]):
//
//   - [NewHandler] wraps any slog.Handler and masks the message, every
//     attribute, nested groups, WithAttrs attributes (masked once, when they
//     are added), resolved [log/slog.LogValuer] values, errors,
//     [fmt.Stringer] values, and maps or structs logged with slog.Any.
//   - [NewWriter] masks the output of loggers that only take an io.Writer,
//     such as the standard library's log package.
//   - [Mask] masks one string.
//
// "go run ./examples/logging" shows a logger leaking a DSN, a bearer token
// and a JSON password, and the same records through NewHandler.
//
// # By key
//
// The value of an attribute, JSON member or key=value pair whose key names a
// credential is replaced as a whole. Keys are compared after lower-casing
// them and dropping every character that is not a letter or digit, so
// "apiKey", "API-KEY" and "x_api_key" are the same key. A key is sensitive
// when, after that normalization:
//
//   - it contains password, passwd, passwort, passphrase, secret,
//     credential, privatekey, apikey, accesskey, authorization, cookie,
//     connectionstring or connstr ("db_password", "client_secret",
//     "aws_secret_access_key", "Set-Cookie"); or
//   - it ends with token, session, sessionid, sessid, pwd, dsn or signature
//     ("access_token", "csrftoken", "user_session", "session_id",
//     "JSESSIONID", "sentry_dsn", "X-Amz-Signature"), or with one of the
//     compounds that name a password: dbpass, sqlpass, userpass, adminpass,
//     rootpass, smtppass, mailpass, ftppass, redispass, ldappass ("db_pass",
//     "MYSQL_PASS"); or
//   - it is exactly pass, pw, pin, pincode, auth, sig or bearer.
//
// The split is deliberate. Words that only ever name credentials match
// anywhere, so "dbpassword" is caught even without separators; the price is
// that "secret_ref", "secretary" and "cookie_consent" are masked too
// (list them in [Options.AllowKeys] to keep them). "pass" alone names a
// password only as the whole key, so "bypass" and "compass" stay. Words
// that also name ordinary counters must end the key, so "token_count",
// "max_tokens", "token_type" and "session_duration" stay readable while
// "session_id" (a bearer credential in most web frameworks) is masked. A
// sensitive group name (slog.Group or WithGroup) masks everything inside
// it. Add keys with [Options.Keys].
//
// # By value
//
// Secrets are also found by their shape anywhere in text: the message,
// string attributes, error text, Stringer output, and JSON-encoded values.
// Only the secret span is replaced, so a line stays useful:
//
//   - URL userinfo: "https://user:pw@host" becomes "https://user:[REDACTED]@host";
//     also MySQL-style "user:pw@tcp(host)/db" DSNs. Because unescaped '@'
//     and '/' turn up in real passwords, the password runs to the last '@'
//     before the query string.
//   - key/value pairs with a sensitive key: JSON ("password": "x"; a
//     number, array or object becomes the JSON string "[REDACTED]" so the
//     JSON stays valid), key=value, key: value, Go's %v of maps and structs
//     (Password:x), slog's TextHandler (password="a b"), HTTP headers
//     ("Authorization: Bearer x" keeps "Bearer"), and command lines
//     ("--password hunter2", "--password=hunter2").
//   - the rule for where a value ends: a quoted value runs to its closing
//     quote, spaces included (password="a b" is masked whole). An unquoted
//     value runs to white space, a quote, or a closing bracket it did not
//     open, so the punctuation passwords hold is masked with them
//     (password=Xy7;kP!2q); a ',', ';' or '&' ends it only before white
//     space or where the next key= visibly starts (Pwd=x;Encrypt=true,
//     token=x&state=y). So password=a b masks "a" and leaves "b": quote a
//     value that holds spaces. After "Cookie:" and for "Key: value" at the
//     start of a line (a header or YAML) the value runs to the end of the
//     line. No value runs past the end of its line.
//   - percent-encoded URLs and pairs, as found inside query parameters and
//     form bodies: "https%3A%2F%2Fuser%3Apw%40host" and "password%3Dx"
//     (also %22token%22%3D%22x%22) in either case of hex digits.
//   - standalone "Bearer x" and "Basic x" credentials, spelled as in an HTTP
//     header, when x looks random (8 or more characters mixing two of lower
//     case, upper case and digits).
//   - AWS access key IDs (AKIA, ASIA, ABIA, ACCA), GitHub (ghp_, gho_, ghu_,
//     ghs_, ghr_, github_pat_), GitLab (glpat-), npm (npm_), Slack (xoxb-,
//     xoxp-, xoxa-, xoxs-, xoxr-, xoxe-, xapp-), Stripe (sk_live_, sk_test_,
//     rk_live_, rk_test_, whsec_), OpenAI and Anthropic (sk-proj-,
//     sk-svcacct-, sk-admin-, sk-ant-, sk- with 32 or more characters),
//     SendGrid (SG.x.y), Twilio API key SIDs (SK and 32 hex digits), Vault
//     (hvs., hvb.), Google API keys (AIza) and OAuth access tokens (ya29.),
//     JWTs, and the bodies of PEM private key blocks. A token is replaced
//     whole, prefix included, and only where it starts a word.
//   - long tokens: runs of 40 or more [A-Za-z0-9+/] characters that mix at
//     least two of lower case, upper case and digits. This catches unknown
//     API keys and AWS secret keys without context, but also git SHAs and
//     other hashes; turn it off with [Options.DisableLongTokens].
//
// # Cost
//
// Masking makes one pass over the bytes; most bytes cost a table lookup,
// and the rules only look closer at the few bytes they can start from (= :
// @ - and the first letters of the token prefixes), so no regular
// expression runs unless Options.Patterns adds one. Text without secrets is
// returned as is, without allocating. Text with secrets is masked again
// until it no longer changes (usually one more pass), which makes Mask
// idempotent even where two rules overlap. The cost is linear in the
// length of the text: the rules share a budget of work per byte, and text
// crafted to make them rescan the same bytes is masked from the point
// where the budget runs out.
//
// # Encoding of other values
//
// An error is logged as its masked Error() text, a fmt.Stringer as its
// masked String() text, and a []byte as masked text. Other values of kind
// slog.KindAny (maps, structs, slices, json.Marshaler) are encoded with
// encoding/json, masked as JSON, and handed on as a json.RawMessage, so a
// JSONHandler prints exactly what it would have printed, minus the secrets; a
// TextHandler prints the JSON text. Values that encoding/json cannot encode
// are formatted with %+v and masked as text.
//
// A value whose LogValue already hides a secret (such as a secret type that
// logs as "[REDACTED]") stays hidden: values are resolved before masking and
// masking never restores text.
//
// # Validated values
//
// The audit records of dbservice.Guard mark the fields Guard has validated
// (operation, collection, document ID, a principal that passes the ID rule,
// outcome) with a type internal to this module. The handler does not mask
// those by value, so a document ID that embeds a git SHA
// ("prod-0123…4567") reaches the audit trail whole; it still masks them by
// key and by group. Nothing a program logs can carry the mark: a string, a
// LogValuer or JSON that looks like a marked value is masked as usual.
package masking
