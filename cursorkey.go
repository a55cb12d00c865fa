package securedb

import (
	"context"

	"github.com/securedb-go/securedb/dbservice"
)

// EnvCursorKey is the variable ConfigFromEnv reads into Config.CursorKey.
const EnvCursorKey = "SECUREDB_CURSOR_KEY"

// cursorSigner resolves cfg.CursorKey (a value or a secret reference) once,
// at Open. An empty CursorKey gives nil: the providers then sign with the
// per-process key and report it.
func cursorSigner(ctx context.Context, cfg Config, o *opened) (*dbservice.CursorSigner, error) {
	if cfg.CursorKey == "" {
		return nil, nil
	}
	fail := func(err error) error { return dbservice.NewError("open", "", "", "", err) }
	r, closeFn, err := credentialResolver(ctx, cfg, cfg.CursorKey)
	if err != nil {
		return nil, fail(err)
	}
	defer func() { _ = closeFn() }()
	o.cursorKeySource = credentialOrigin(r, cfg.CursorKey)
	key, err := expandValue(ctx, r, cfg.CursorKey)
	if err != nil {
		return nil, fail(err)
	}
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
