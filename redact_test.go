package securedb_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"google.golang.org/api/option"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice/couchdb"
	"github.com/securedb-go/securedb/dbservice/driver"
	"github.com/securedb-go/securedb/dbservice/dynamodb"
	"github.com/securedb-go/securedb/dbservice/firestore"
	"github.com/securedb-go/securedb/secrets"
)

// redactCanary stands in for every credential the test plants.
const redactCanary = "CANARY-7f3a9c-do-not-print"

// credentialTypes lists, by value, every exported type of the module that
// holds a credential. TestNoExportedTypeLeaksACredential finds those types
// in the source on its own and fails when one is missing here, so a new
// config type cannot be forgotten.
var credentialTypes = []any{
	securedb.Config{},
	couchdb.Config{},
	couchdb.Spec{},
	dynamodb.Config{},
	firestore.Config{},
	secrets.Secret{},
	driver.Env{},
}

// credentialName is a field or type name that names a credential.
var credentialName = regexp.MustCompile(`(?i)pass(word|wd|phrase)?$|password|secret|token$|credential|apikey|privatekey|cursorkey|signingkey|hmackey|clientoptions?$|transport$`)

// credentialFieldType is the source text of a field type that carries a
// credential whatever the field is called.
var credentialFieldType = regexp.MustCompile(`^(\[\])?\*?(secrets\.)?Secret$|CredentialsProvider$|^\*aws\.Config$|option\.ClientOption$|PasswordSource$|^\*tls\.Config$|RoundTripper$|^(secrets\.)?Resolver$`)

// notCredentials are fields the source scan would take for credentials,
// with the reason they are not.
var notCredentials = map[string]string{
	"github.com/securedb-go/securedb/secrets/awssm.Ref.SecretID": "the name or ARN of a secret, not its value",
	"github.com/securedb-go/securedb/secrets/gcpsm.Ref.Secret":   "the ID of a secret, not its value",
}

func TestNoExportedTypeLeaksACredential(t *testing.T) {
	found := credentialTypesInSource(t)
	registered := map[string]bool{}
	for _, v := range credentialTypes {
		registered[typeKey(reflect.TypeOf(v))] = true
	}
	for name, why := range found {
		if !registered[name] {
			t.Errorf("%s holds a credential (%s) but is not in credentialTypes: give it redacting String, GoString, Format, LogValue and MarshalJSON methods and list it", name, why)
		}
	}
	for name := range registered {
		if _, ok := found[name]; !ok {
			t.Errorf("credentialTypes lists %s, which the source scan does not see holding a credential; update the scan or the list", name)
		}
	}

	for _, v := range credentialTypes {
		typ := reflect.TypeOf(v)
		p := reflect.New(typ)
		fill(p.Elem(), "")
		for _, out := range renderings(t, p) {
			t.Run(typ.String()+" "+out.how, func(t *testing.T) {
				for _, leak := range []string{redactCanary, hex.EncodeToString([]byte(redactCanary)), strings.ToUpper(hex.EncodeToString([]byte(redactCanary)))} {
					if strings.Contains(out.text, leak) {
						t.Fatalf("the canary leaks: %s", out.text)
					}
				}
			})
		}
	}
}

type rendering struct{ how, text string }

// renderings prints the value p points at, and p itself, every way a
// program might: each fmt verb, encoding/json (alone, in a struct, in a
// map), and slog's text and JSON handlers (alone and nested).
func renderings(t *testing.T, p reflect.Value) []rendering {
	t.Helper()
	v := p.Elem().Interface()
	ptr := p.Interface()
	var out []rendering
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%100v"} {
		out = append(out,
			rendering{"fmt " + verb, fmt.Sprintf(verb, v)},
			rendering{"fmt " + verb + " of a pointer", fmt.Sprintf(verb, ptr)},
			rendering{"fmt " + verb + " in a struct", fmt.Sprintf(verb, struct{ C any }{v})},
			rendering{"fmt " + verb + " in a slice", fmt.Sprintf(verb, []any{v, ptr})},
		)
	}
	out = append(out, rendering{"fmt Sprint", fmt.Sprint(v, ptr)}, rendering{"fmt Sprintln", fmt.Sprintln(v, ptr)})
	for how, x := range map[string]any{
		"":              v,
		" of a pointer": ptr,
		" in a struct":  struct{ C any }{v},
		" in a map":     map[string]any{"c": v, "p": ptr},
	} {
		b, err := json.Marshal(x)
		if err != nil {
			t.Errorf("json.Marshal%s: %v", how, err)
		}
		out = append(out, rendering{"encoding/json" + how, string(b)})
		b, err = json.MarshalIndent(x, "", " ")
		if err != nil {
			t.Errorf("json.MarshalIndent%s: %v", how, err)
		}
		out = append(out, rendering{"encoding/json indented" + how, string(b)})
	}
	for name, newHandler := range map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		l := slog.New(newHandler(&buf))
		l.Info("cfg", "c", v, "p", ptr)
		l.Info("cfg", slog.Group("g", slog.Any("c", v)))
		l.Info("cfg", "w", struct{ C any }{v}, "m", map[string]any{"c": v})
		l.With("c", v).Info("cfg")
		l.Info(fmt.Sprint(v))
		l.LogAttrs(context.Background(), slog.LevelInfo, "cfg", slog.Any("c", v))
		out = append(out, rendering{"slog " + name + " handler", buf.String()})
	}
	return out
}

// fill plants the canary in every credential-bearing field of v, recursing
// through the module's own structs and the AWS configuration. Other
// strings get a harmless value so that String methods take their "set"
// branches.
func fill(v reflect.Value, name string) {
	if f, ok := fillers[v.Type()]; ok {
		v.Set(reflect.ValueOf(f()))
		return
	}
	switch v.Kind() {
	case reflect.String:
		switch {
		case strings.HasSuffix(name, "File"):
			v.SetString("/run/secrets/plain") // where a credential is, printed by design
		case credentialName.MatchString(name):
			v.SetString(redactCanary)
		case strings.HasSuffix(name, "URL") || strings.HasSuffix(name, "Endpoint"):
			v.SetString("https://app:" + redactCanary + "@db.example:6984/")
		default:
			v.SetString("plain")
		}
	case reflect.Struct:
		if !ours(v.Type()) && v.Type() != reflect.TypeOf(aws.Config{}) {
			return
		}
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				fill(v.Field(i), f.Name)
			}
		}
	case reflect.Pointer:
		if e := v.Type().Elem(); e.Kind() == reflect.Struct && (ours(e) || e == reflect.TypeOf(aws.Config{})) {
			v.Set(reflect.New(e))
			fill(v.Elem(), name)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String {
			v.Set(reflect.ValueOf([]string{"plain"}).Convert(v.Type()))
		}
	}
}

func ours(t reflect.Type) bool {
	return strings.HasPrefix(t.PkgPath(), "github.com/securedb-go/securedb")
}

// leakyTransport and leakyResolver are user types that hold a credential
// in an exported field, as a proxy's transport or a static resolver
// would.
type leakyTransport struct{ Token string }

func (leakyTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("unused")
}

type leakyResolver struct{ Values map[string]string }

func (leakyResolver) Resolve(context.Context, string) (secrets.Secret, error) {
	return secrets.Secret{}, fmt.Errorf("unused")
}

var fillers = map[reflect.Type]func() any{
	reflect.TypeOf(secrets.Secret{}): func() any { return secrets.New(redactCanary) },
	reflect.TypeOf((*aws.CredentialsProvider)(nil)).Elem(): func() any {
		return aws.CredentialsProvider(credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", redactCanary, redactCanary))
	},
	reflect.TypeOf([]option.ClientOption(nil)): func() any {
		return []option.ClientOption{
			option.WithAPIKey(redactCanary),
			//lint:ignore SA1019 deprecated, but still what programs pass, and what the leak report named
			option.WithCredentialsJSON([]byte(`{"type":"service_account","private_key":"` + redactCanary + `"}`)),
		}
	},
	reflect.TypeOf(couchdb.PasswordSource(nil)): func() any {
		return couchdb.PasswordSource(func(context.Context, bool) (string, error) { return redactCanary, nil })
	},
	reflect.TypeOf((*tls.Config)(nil)): func() any {
		return &tls.Config{ServerName: redactCanary}
	},
	reflect.TypeOf((*http.RoundTripper)(nil)).Elem(): func() any {
		return http.RoundTripper(leakyTransport{Token: redactCanary})
	},
	reflect.TypeOf((*secrets.Resolver)(nil)).Elem(): func() any {
		return secrets.Resolver(leakyResolver{Values: map[string]string{"env://X": redactCanary}})
	},
}

func typeKey(t reflect.Type) string { return t.PkgPath() + "." + t.Name() }

// credentialTypesInSource parses every non-test Go file of the module's
// library packages and returns the exported struct types that hold a
// credential: a field named like one or of a credential-bearing type, or a
// field of another such type of the module. The value says why.
func credentialTypesInSource(t *testing.T) map[string]string {
	t.Helper()
	const module = "github.com/securedb-go/securedb"
	type field struct{ name, typ, ref string } // ref: the module type a field refers to
	structs := map[string][]field{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "examples" || d.Name() == "scripts") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		pkg := module
		if dir := filepath.ToSlash(filepath.Dir(path)); dir != "." {
			pkg += "/" + dir
		}
		imports := map[string]string{}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			name := p[strings.LastIndex(p, "/")+1:]
			if im.Name != nil {
				name = im.Name.Name
			}
			imports[name] = p
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || !ts.Name.IsExported() {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			key := pkg + "." + ts.Name.Name
			if !ok {
				return true
			}
			fs := []field{}
			for _, fl := range st.Fields.List {
				typ := types.ExprString(fl.Type)
				ref := ""
				switch x := baseType(fl.Type).(type) {
				case *ast.Ident:
					ref = pkg + "." + x.Name
				case *ast.SelectorExpr:
					if id, ok := x.X.(*ast.Ident); ok {
						ref = imports[id.Name] + "." + x.Sel.Name
					}
				}
				names := fl.Names
				if len(names) == 0 {
					names = []*ast.Ident{{Name: typ}}
				}
				for _, nm := range names {
					fs = append(fs, field{nm.Name, typ, ref})
				}
			}
			structs[key] = fs
			if credentialName.MatchString(ts.Name.Name) || ts.Name.Name == "Secret" {
				structs[key] = append(structs[key], field{"(type name)", ts.Name.Name, ""})
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for changed := true; changed; {
		changed = false
		for key, fs := range structs {
			if _, ok := found[key]; ok {
				continue
			}
			for _, f := range fs {
				why := ""
				switch {
				case f.name == "(type name)":
					why = "its name"
				case !ast.IsExported(f.name), notCredentials[key+"."+f.name] != "":
					// fmt and encoding/json do not reach unexported fields.
				case credentialName.MatchString(f.name):
					why = "field " + f.name
				case credentialFieldType.MatchString(f.typ):
					why = "field " + f.name + " of type " + f.typ
				case found[f.ref] != "":
					why = "field " + f.name + " of type " + f.typ
				}
				if why != "" {
					found[key], changed = why, true
					break
				}
			}
		}
	}
	return found
}

func baseType(e ast.Expr) ast.Expr {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.ArrayType:
			e = x.Elt
		case *ast.MapType:
			e = x.Value
		default:
			return e
		}
	}
}
