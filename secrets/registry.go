package secrets

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
)

// Opener builds the Resolver for one reference scheme. securedb.Open calls
// it the first time a setting uses the scheme, so a cloud client is built
// only for a configuration that needs it.
type Opener func(ctx context.Context) (Resolver, error)

var (
	openersMu sync.RWMutex
	openers   = map[string]Opener{}
)

// RegisterOpener makes a scheme's resolver available to programs that
// resolve references without building the resolver themselves
// (securedb.Open). Packages awssm and gcpsm call it from init, so importing
// one of them is what enables its scheme. It is safe for concurrent use.
// It panics on an invalid scheme, a nil opener, env or file (always
// available) and a scheme registered before: each is a mistake in the
// program, not in its input.
func RegisterOpener(scheme string, open Opener) {
	s := strings.ToLower(scheme)
	if !validScheme(scheme) || len(scheme) > 32 {
		panic(fmt.Sprintf("secrets: RegisterOpener: invalid scheme %q", scheme))
	}
	if open == nil {
		panic("secrets: RegisterOpener: nil opener for scheme " + s)
	}
	if s == EnvScheme || s == FileScheme {
		panic("secrets: RegisterOpener: scheme " + s + " is built in")
	}
	openersMu.Lock()
	defer openersMu.Unlock()
	if _, dup := openers[s]; dup {
		panic("secrets: RegisterOpener called twice for scheme " + s)
	}
	openers[s] = open
}

// Openers returns the registered openers by scheme. The map is a copy.
func Openers() map[string]Opener {
	openersMu.RLock()
	defer openersMu.RUnlock()
	return maps.Clone(openers)
}
