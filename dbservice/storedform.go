package dbservice

import "context"

type storedFormKey struct{}

// WithStoredForm returns a context under which layers that transform
// documents on their way to the database (client-side field encryption,
// package dbservice/fieldcrypt) pass documents through in the form they
// are stored in: reads return ciphertext, writes must already hold it.
// Export, Import, Copy and Verify use it, so a backup taken through the
// full service stack holds no plaintext of encrypted fields, a restore
// writes the same ciphertext back and Verify compares what is stored.
// Layers that do not transform documents ignore it.
func WithStoredForm(ctx context.Context) context.Context {
	return context.WithValue(ctx, storedFormKey{}, true)
}

// StoredForm reports whether ctx asks for documents in their stored form
// (see WithStoredForm).
func StoredForm(ctx context.Context) bool {
	v, _ := ctx.Value(storedFormKey{}).(bool)
	return v
}
