package firestore

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"google.golang.org/api/option"

	"github.com/securedb-go/securedb/dbservice"
)

// postureInput is what CheckPosture inspects, fixed at New.
type postureInput struct {
	emulator        string // emulator address, "" for Google Cloud
	credentialsFile string // configured or from GOOGLE_APPLICATION_CREDENTIALS
	// opaque names the ClientOptions that can replace the SDK's TLS
	// transport (an HTTP client, a gRPC connection or dial option) and
	// that cannot be looked into.
	opaque []string
}

// transportOptions are the option types (by Go type name) that can set
// the transport, and so its TLS, in ways CheckPosture cannot inspect:
// grpc.DialOption is an opaque function. Every other option of
// google.golang.org/api/option (credentials, scopes, endpoint, user
// agent, quota project, ...) leaves the SDK's TLS alone; types from
// elsewhere are opaque too.
var transportOptions = map[string]bool{
	"option.withHTTPClient": true, "option.withGRPCConn": true, "option.withGRPCDialOption": true,
}

// opaqueOptions returns the type names of opts that may replace the TLS
// transport.
func opaqueOptions(opts []option.ClientOption) []string {
	var out []string
	for _, o := range opts {
		name := fmt.Sprintf("%T", o)
		if transportOptions[name] || !strings.HasPrefix(name, "option.") {
			out = append(out, strings.TrimPrefix(name, "option."))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// CheckPosture implements dbservice.PostureChecker. It reports, in this
// order:
//
//   - "auth-enabled": Google Cloud, where every request is authenticated
//     by IAM (pass), or the emulator, which accepts anyone and is not a
//     production database (warn);
//   - "tls": Google Cloud over the SDK's own TLS transport (pass), or
//     over a transport from ClientOptions that cannot be inspected (an
//     HTTP client, a gRPC connection or dial option: warn), the
//     emulator's plain-text gRPC on loopback (warn) or across a network
//     (fail);
//   - "secrets-manager": no service-account key file, so credentials come
//     from workload identity (pass), or a key file, a long-lived private
//     key (warn);
//   - "key-file-permissions": the key file is readable by its owner only
//     (pass) or also by group or others (fail);
//   - "key-file-location": the key file lies outside the working directory
//     tree (pass) or inside it, where it risks being committed (warn);
//   - "security-rules" and "network-restricted": skipped, with a Fix:
//     Firestore security rules and VPC Service Controls cannot be seen
//     from a server SDK (server SDKs are not subject to rules at all).
//
// The key-file findings are present only when a key file is configured.
// Findings name files and settings, never their contents: the key file is
// only stat'ed and its "type" member read.
func (s *Service) CheckPosture(ctx context.Context) []dbservice.Finding {
	in := s.posture
	out := []dbservice.Finding{authFinding(in), tlsFinding(in), s.cursors.Finding()}
	if in.credentialsFile == "" {
		f := dbservice.Finding{ID: "secrets-manager", Title: "No service-account key file; credentials come from workload identity"}
		if in.emulator != "" {
			f.Status, f.Detail = dbservice.Skip, "the emulator takes no credentials and no key file is configured"
		} else {
			f.Status, f.Detail = dbservice.Pass, "Application Default Credentials without a key file (attached service account or workload identity)"
		}
		out = append(out, f)
	} else {
		out = append(out, keyFileFindings(in.credentialsFile)...)
	}
	return append(out,
		dbservice.Finding{
			ID:     "security-rules",
			Title:  "Firestore security rules deny what web and mobile clients must not do",
			Status: dbservice.Skip,
			Detail: "server SDKs authenticate with IAM and are not subject to security rules, so the rules cannot be seen or tested from here",
			Fix:    "keep firestore.rules in source control and test it with the emulator; if only servers use the database, deploy rules that deny all client access (match /{document=**} { allow read, write: if false; }) with `firebase deploy --only firestore:rules`",
		},
		dbservice.Finding{
			ID:     "network-restricted",
			Title:  "The project sits in a VPC Service Controls perimeter",
			Status: dbservice.Skip,
			Detail: "VPC Service Controls perimeters are not visible to a server SDK",
			Fix:    "restrict firestore.googleapis.com with a VPC Service Controls perimeter around the project (gcloud access-context-manager perimeters create/update), and reach it over Private Google Access",
		},
	)
}

func authFinding(in postureInput) dbservice.Finding {
	f := dbservice.Finding{ID: "auth-enabled", Title: "Requests are authenticated (Google Cloud IAM)"}
	if in.emulator == "" {
		f.Status, f.Detail = dbservice.Pass, "Google Cloud Firestore: every request carries IAM credentials"
		return f
	}
	f.Status = dbservice.Warn
	f.Detail = "the Firestore emulator at " + in.emulator + " is in use: it accepts every caller, keeps data in memory and is not a production database"
	f.Fix = "unset " + EnvEmulatorHost + " (and Config.EmulatorHost) outside development and tests"
	return f
}

func tlsFinding(in postureInput) dbservice.Finding {
	f := dbservice.Finding{ID: "tls", Title: "Requests travel over TLS"}
	host, _, _ := net.SplitHostPort(in.emulator)
	switch {
	case in.emulator == "" && len(in.opaque) > 0:
		f.Status = dbservice.Warn
		f.Detail = "cannot see the TLS settings: ClientOptions replace the SDK's transport (" + strings.Join(in.opaque, ", ") + "), which may turn certificate verification off"
		f.Fix = "let the SDK build its TLS transport (drop WithGRPCConn, WithHTTPClient and transport dial options), or make sure the one given verifies Google's certificates"
	case in.emulator == "":
		f.Status, f.Detail = dbservice.Pass, "Google Cloud Firestore endpoint over TLS (the SDK's own transport, verifying Google's certificates)"
	case isLoopback(host):
		f.Status, f.Detail = dbservice.Warn, "plain-text gRPC to the emulator at "+in.emulator+" (traffic stays on this machine)"
		f.Fix = "use Google Cloud Firestore, which is TLS only, outside development"
	default:
		f.Status, f.Detail = dbservice.Fail, "plain-text gRPC to the emulator at "+in.emulator+" across the network"
		f.Fix = "run the emulator on the same machine (127.0.0.1) and unset " + EnvAllowRemoteEmulator
	}
	return f
}

// keyFileFindings inspects a credentials file: its kind, its permissions
// and where it lies.
func keyFileFindings(path string) []dbservice.Finding {
	kind := dbservice.Finding{ID: "secrets-manager", Title: "No service-account key file; credentials come from workload identity"}
	perm := dbservice.Finding{ID: "key-file-permissions", Title: "The credentials file is readable by its owner only"}
	place := dbservice.Finding{ID: "key-file-location", Title: "The credentials file lies outside the working directory tree"}

	info, err := os.Stat(path)
	if err != nil {
		kind.Status, kind.Detail = dbservice.Warn, "a credentials file is configured ("+path+") but cannot be examined"
		kind.Fix = workloadIdentityFix
		perm.Status, perm.Detail = dbservice.Skip, "cannot stat "+path
		place.Status, place.Detail = dbservice.Skip, "cannot stat "+path
		return []dbservice.Finding{kind, perm, place}
	}

	switch typ, err := credentialsType(path); {
	case err != nil:
		kind.Status, kind.Detail = dbservice.Warn, "a credentials file is configured ("+path+") but cannot be read as JSON credentials"
		kind.Fix = workloadIdentityFix
	case typ == "service_account":
		kind.Status, kind.Detail = dbservice.Warn, "a service-account key file is used ("+path+"): a long-lived private key that works from anywhere until it is deleted"
		kind.Fix = workloadIdentityFix
	case typ == "authorized_user":
		kind.Status, kind.Detail = dbservice.Warn, "a user's credentials file is used ("+path+"): the application acts as a person"
		kind.Fix = workloadIdentityFix
	case typ == "external_account" || typ == "impersonated_service_account":
		kind.Status, kind.Detail = dbservice.Pass, "short-lived credentials from "+strings.ReplaceAll(typ, "_", " ")+" configuration "+path+" (no private key)"
	default:
		kind.Status, kind.Detail = dbservice.Warn, "the credentials file "+path+" is of an unknown kind"
		kind.Fix = workloadIdentityFix
	}

	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		perm.Status, perm.Detail = dbservice.Fail, path+" has mode "+mode.String()+": group or others can read or change the credentials"
		perm.Fix = "chmod 600 " + path + " (or mount it from a secret store with mode 0400)"
	} else {
		perm.Status, perm.Detail = dbservice.Pass, path+" has mode "+mode.String()
	}

	switch inside, err := insideWorkingDir(path); {
	case err != nil:
		place.Status, place.Detail = dbservice.Skip, "cannot resolve the working directory or "+path
	case inside:
		place.Status, place.Detail = dbservice.Warn, path+" lies inside the working directory tree, where it can end up in a commit, an image or an archive"
		place.Fix = "keep credentials outside the source tree (for example /run/secrets or a secret manager), list the file in .gitignore, and prefer workload identity"
	default:
		place.Status, place.Detail = dbservice.Pass, path+" lies outside the working directory tree"
	}
	return []dbservice.Finding{kind, perm, place}
}

const workloadIdentityFix = "run with an attached service account (Cloud Run, GKE Workload Identity, Compute Engine) or workload identity federation elsewhere, unset " + EnvCredentials + " and delete the key (gcloud iam service-accounts keys delete)"

// insideWorkingDir reports whether path lies in the working directory or
// below it, symbolic links resolved.
func insideWorkingDir(path string) (bool, error) {
	wd, err := os.Getwd()
	if err != nil {
		return false, err
	}
	if wd, err = filepath.EvalSymlinks(wd); err != nil {
		return false, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return false, err
	}
	rel, err := filepath.Rel(wd, abs)
	if err != nil {
		return false, nil
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel), nil
}
