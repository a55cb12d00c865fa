package securedb

import (
	"context"
	"errors"
	"log/slog"
	"strings"

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
	// audit is the logger Guard writes the audit trail to (nil when
	// auditing is off).
	audit *slog.Logger
	// cursorKeySource says how Config.CursorKey was given, as credSource.
	cursorKeySource string
	// extraClose releases what Open built besides the provider (a Secret
	// Manager client).
	extraClose func() error
	// stopObserving unregisters the secret age gauge.
	stopObserving func() error
}

// Unwrap implements dbservice.Wrapper.
func (o *opened) Unwrap() dbservice.Service { return o.Service }

// Close closes the provider and what Open built for it.
func (o *opened) Close() error {
	err := o.Service.Close()
	o.closeExtra()
	return err
}

// addClose runs f, then what was there, when the Service closes.
func (o *opened) addClose(f func() error) {
	prev := o.extraClose
	o.extraClose = func() error {
		err := f()
		if prev != nil {
			err = errors.Join(err, prev())
		}
		return err
	}
}

func (o *opened) closeExtra() {
	if o.stopObserving != nil {
		_ = o.stopObserving()
		o.stopObserving = nil
	}
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
	return append(out, o.maskingFinding())
}

// maskingFinding checks the loggers records reach: the audit logger
// Guard writes to, and the default slog logger (which the providers use
// when their Config.Logger is nil). Detail says which was checked.
func (o *opened) maskingFinding() dbservice.Finding {
	f := dbservice.Finding{ID: "log-masking", Title: "Logs mask credentials"}
	def := slog.Default()
	type checked struct {
		name  string
		masks bool
	}
	var loggers []checked
	switch {
	case o.audit == nil:
		loggers = append(loggers, checked{"the default slog logger (auditing is off)", masks(def.Handler())})
	case o.audit == def:
		loggers = append(loggers, checked{"the audit logger (Policy.Audit, the default slog logger)", masks(def.Handler())})
	default:
		loggers = append(loggers,
			checked{"the audit logger (Policy.Audit)", masks(o.audit.Handler())},
			checked{"the default slog logger", masks(def.Handler())})
	}
	var good, bad []string
	for _, l := range loggers {
		if l.masks {
			good = append(good, l.name)
		} else {
			bad = append(bad, l.name)
		}
	}
	if len(bad) == 0 {
		f.Status, f.Detail = dbservice.Pass, strings.Join(good, " and ")+" mask secrets (masking.NewHandler)"
		return f
	}
	f.Status = dbservice.Warn
	f.Detail = strings.Join(bad, " and ") + " does not mask secrets (no masking.NewHandler in its handler chain)"
	if len(good) > 0 {
		f.Detail += "; " + strings.Join(good, " and ") + " does"
	}
	f.Fix = "wrap the handler of each logger in masking.NewHandler, e.g. slog.New(masking.NewHandler(slog.NewJSONHandler(os.Stderr, nil), nil)) for Policy.Audit and slog.SetDefault"
	return f
}

// masks reports whether records through h reach a masking handler: h is
// one, or wraps one that it exposes with an Unwrap() or Handler() method.
// A handler that hides what it wraps counts as not masking.
func masks(h slog.Handler) bool {
	for range 16 {
		if h == nil {
			return false
		}
		if masking.IsMasking(h) {
			return true
		}
		switch u := h.(type) {
		case interface{ Unwrap() slog.Handler }:
			h = u.Unwrap()
		case interface{ Handler() slog.Handler }:
			h = u.Handler()
		default:
			return false
		}
	}
	return false
}
