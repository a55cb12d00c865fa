package securedb

import (
	"context"
	"fmt"
	"strings"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/secrets"
)

// EnvCursorKey is the variable ConfigFromEnv reads into Config.CursorKey.
const EnvCursorKey = "SECUREDB_CURSOR_KEY"

// cursorSigner resolves cfg.CursorKey (a value or a secret reference) once,
// at Open. An empty CursorKey gives nil: the providers then sign with the
// per-process key and report it.
func cursorSigner(ctx context.Context, cfg Config, o *opened, r secrets.Resolver) (*dbservice.CursorSigner, error) {
	if cfg.CursorKey == "" {
		return nil, nil
	}
	fail := func(err error) error { return dbservice.NewError("open", "", "", "", err) }
	o.cursorKeySource = "literal"
	if scheme, ok := secrets.SchemeOf(cfg.CursorKey); ok && secrets.IsRef(r, cfg.CursorKey) {
		o.cursorKeySource = strings.ToLower(scheme)
	}
	sec, err := secrets.Expand(ctx, r, cfg.CursorKey)
	if err != nil {
		// The reference, never the key, is what the error names.
		return nil, fail(fmt.Errorf("%w: cursor key: %w", dbservice.ErrInvalid, err))
	}
	key := sec.Reveal()
	s, err := dbservice.NewCursorSigner([]byte(key))
	if err != nil {
		return nil, fail(err)
	}
	return s, nil
}

// cursorKeyFinding adds to the providers' cursor-key finding what only
// the configuration knows: a key written into the configuration itself.
func (o *opened) cursorKeyFinding() []dbservice.Finding {
	if o.cursorKeySource != "literal" {
		return nil
	}
	return []dbservice.Finding{{
		ID: dbservice.ItemCursorKey, Status: dbservice.Warn,
		Detail: EnvCursorKey + " holds the cursor key itself",
		Fix:    "store the key in a secret manager and set " + EnvCursorKey + " to a reference such as awssm://prod/app#cursor_key or file:///run/secrets/app#cursor_key",
	}}
}
