package securedb

import (
	"context"
	"log/slog"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/masking"
)

// opened is the layer Open puts on top of Guard: it remembers how the
// service was configured, so the security checklist can report what only
// the configuration knows (where credentials came from, how logs are
// masked).
type opened struct {
	dbservice.Service
	provider string
	// credSource says how the provider's password was given: "" (the
	// provider takes none), "literal" or a reference scheme.
	credSource string
	credVar    string
	// cursorKeySource says how Config.CursorKey was given, as credSource.
	cursorKeySource string
	// extraClose releases what Open built besides the provider (a Secret
	// Manager client).
	extraClose func() error
}

// Unwrap implements dbservice.Wrapper.
func (o *opened) Unwrap() dbservice.Service { return o.Service }

// Close closes the provider and what Open built for it.
func (o *opened) Close() error {
	err := o.Service.Close()
	o.closeExtra()
	return err
}

func (o *opened) closeExtra() {
	if o.extraClose != nil {
		_ = o.extraClose()
		o.extraClose = nil
	}
}

// SaveMany keeps Guard's bulk path visible through this layer.
func (o *opened) SaveMany(ctx context.Context, collection string, items []dbservice.BulkItem) error {
	return o.Service.(dbservice.BulkWriter).SaveMany(ctx, collection, items)
}

// CheckPosture implements dbservice.PostureChecker for what Open knows.
func (o *opened) CheckPosture(ctx context.Context) []dbservice.Finding {
	var out []dbservice.Finding
	switch o.credSource {
	case "":
	case "literal":
		out = append(out, dbservice.Finding{
			ID: "secrets-manager", Title: "Credentials come from a secret manager", Status: dbservice.Warn,
			Detail: o.credVar + " holds the password itself",
			Fix:    "store the password in a secret manager and set " + o.credVar + " to a reference such as awssm://prod/db#password, gcpsm://projects/P/secrets/S#password or file:///run/secrets/db#password",
		})
	case "env":
		out = append(out, dbservice.Finding{
			ID: "secrets-manager", Title: "Credentials come from a secret manager", Status: dbservice.Warn,
			Detail: o.credVar + " points at another environment variable",
			Fix:    "use an awssm://, gcpsm:// or file:// reference so the password never sits in the environment",
		})
	default:
		out = append(out, dbservice.Finding{
			ID: "secrets-manager", Title: "Credentials come from a secret manager", Status: dbservice.Pass,
			Detail: o.credVar + " is a " + o.credSource + ":// reference, resolved at run time and re-read on rotation",
		})
	}
	out = append(out, o.cursorKeyFinding()...)
	if masking.IsMasking(slog.Default().Handler()) {
		out = append(out, dbservice.Finding{
			ID: "log-masking", Title: "Logs mask credentials", Status: dbservice.Pass,
			Detail: "the default slog logger masks secrets",
		})
	} else {
		out = append(out, dbservice.Finding{
			ID: "log-masking", Title: "Logs mask credentials", Status: dbservice.Warn,
			Detail: "the default slog logger does not use masking.NewHandler",
			Fix:    "slog.SetDefault(slog.New(masking.NewHandler(slog.NewJSONHandler(os.Stderr, nil), nil)))",
		})
	}
	return out
}
