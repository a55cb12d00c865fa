// Package secrets resolves credentials from secret references such as
// env://NAME or awssm://prod/couchdb#password and keeps them out of every log,
// error and printout.
//
// A [Secret] holds one value. Printing it with any fmt verb, logging it with
// log/slog or marshaling it to JSON or text gives "[REDACTED]"; [Secret.Reveal]
// is the only way to read the value, so every place that does is easy to find
// in review.
//
// A [Resolver] turns a reference into a Secret. References are URLs:
//
//	env://NAME                                        process environment
//	file:///run/secrets/db#password                   a file (see [File])
//	awssm://prod/couchdb?version-stage=AWSCURRENT#password   AWS Secrets Manager (package awssm)
//	gcpsm://projects/p/secrets/s/versions/latest#password    Google Secret Manager (package gcpsm)
//
// The optional #key picks one top-level string field of a secret that holds a
// JSON object, such as the {"url", "username", "password"} document the
// security guide stores in one secret. A [Mux] routes references by scheme;
// [Default] knows env and file, and the cloud resolvers are registered by the
// caller so that nothing talks to a cloud unless asked to. Packages awssm and
// gcpsm also register an [Opener] on import ([RegisterOpener]), which is how
// securedb.Open learns the cloud schemes a program linked. [Cache] adds a TTL,
// one backend call per reference at a time, invalidation for rotation and a
// bounded serve-stale window when the backend fails.
//
// [Expand] resolves a configuration value only when it is a reference of a
// scheme the resolver knows, so COUCHDB_PASSWORD may hold either a password or
// awssm://prod/couchdb#password. [Source] builds the refreshable password
// source that database providers call again after an authentication failure.
//
// Errors wrap the sentinels [ErrInvalidRef], [ErrNotFound], [ErrPermission],
// [ErrUnavailable] and [ErrInsecure] and name the reference, never the value.
//
// This package imports nothing else from securedb.
package secrets
