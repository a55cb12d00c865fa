package securedb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/audit"
	"github.com/securedb-go/securedb/secrets"
)

// Variables ConfigFromEnv reads into Config.AuditFile and
// Config.AuditSigningKey.
const (
	EnvAuditFile = "SECUREDB_AUDIT_FILE"
	EnvAuditKey  = "SECUREDB_AUDIT_KEY"
)

// openAuditTrail opens cfg.AuditFile as the audit trail Guard writes to:
// a new trail when the file is empty, else the file's own trail continued
// (audit.Resume), signed with cfg.AuditSigningKey when it is set. The
// returned close writes the last checkpoint and closes the file.
func openAuditTrail(ctx context.Context, cfg Config, r secrets.Resolver) (dbservice.AuditTrail, func() error, error) {
	fail := func(err error) error { return dbservice.NewError("open", "", "", "", err) }
	if cfg.AuditFile == "" {
		if cfg.AuditSigningKey != "" {
			return nil, nil, fail(fmt.Errorf("%w: %s is set without %s: a signing key needs a trail to sign", dbservice.ErrInvalid, EnvAuditKey, EnvAuditFile))
		}
		return nil, nil, nil
	}
	var opts audit.Options
	if cfg.AuditSigningKey != "" {
		sec, err := secrets.Expand(ctx, r, cfg.AuditSigningKey)
		if err != nil {
			// The reference, never the key, is what the error names.
			return nil, nil, fail(fmt.Errorf("%w: audit signing key: %w", dbservice.ErrInvalid, err))
		}
		signer, err := note.NewSigner(strings.TrimSpace(sec.Reveal()))
		if err != nil {
			// note's error names no part of the key; neither does this one.
			return nil, nil, fail(fmt.Errorf("%w: audit signing key: not a signer key of golang.org/x/mod/sumdb/note (PRIVATE+KEY+name+hash+key, from note.GenerateKey)", dbservice.ErrInvalid))
		}
		opts.Signer = signer
	}
	// The trail holds who did what: readable by its owner only.
	f, err := os.OpenFile(cfg.AuditFile, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fail(fmt.Errorf("%w: audit trail: %w", dbservice.ErrInvalid, err))
	}
	var sink *audit.Sink
	if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
		sink = audit.New(f, opts)
	} else if sink, err = audit.Resume(f, f, opts); err != nil {
		_ = f.Close()
		// Extending a trail that does not verify would hide where it broke.
		return nil, nil, fail(fmt.Errorf("%w: audit trail %s does not verify, so it is not extended; keep it as evidence, move it aside and start a new file: %w", dbservice.ErrInvalid, cfg.AuditFile, err))
	}
	return sink, func() error { return errors.Join(sink.Close(), f.Close()) }, nil
}
