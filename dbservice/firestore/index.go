package firestore

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	admin "cloud.google.com/go/firestore/apiv1/admin"
	"cloud.google.com/go/firestore/apiv1/admin/adminpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// EnsureIndex implements dbservice.Service. It declares that the
// collection has an index on fields: equality on the leading fields and a
// range or order on the ones after them (all ascending or all descending,
// the document ID last). Query then sends such queries to Firestore in
// that order (see Query). One field needs nothing more: Firestore keeps a
// single-field index on every field. Two or more need composite indexes,
// one per direction, which production Firestore refuses to run queries
// without (ErrUnavailable with Firestore's link for creating them):
//
//   - with Config.ManageIndexes, EnsureIndex creates them through the
//     Firestore Admin API (CreateIndex) and waits until they are READY,
//     which can take minutes for a large collection (ctx bounds the wait;
//     an index that already exists is success). That needs the
//     datastore.indexes.create permission (roles/datastore.indexAdmin):
//     ErrForbidden without it.
//   - otherwise EnsureIndex sends nothing, and the indexes are deployed
//     with the application: WriteIndexesJSON writes them in the
//     firestore.indexes.json format that `firebase deploy` reads.
//
// The emulator serves every query without indexes: there EnsureIndex
// only declares them.
func (s *Service) EnsureIndex(ctx context.Context, coll string, fields ...string) error {
	if err := s.precheck(ctx, "ensure-index", coll, "", false); err != nil {
		return err
	}
	if err := dbservice.CheckFieldsWith(fields, s.limits); err != nil {
		return fail("ensure-index", coll, "", err)
	}
	if slices.Contains(fields, "_id") {
		return fail("ensure-index", coll, "", &validate.Error{Field: "fields", Reason: "_id is the last key of every index already"})
	}
	for i, f := range fields {
		if slices.Contains(fields[:i], f) {
			return fail("ensure-index", coll, "", &validate.Error{Field: "fields", Reason: "a field is listed twice"})
		}
	}
	if len(fields) > 1 && s.manageIndexes && s.adminOpts != nil {
		if err := s.createIndexes(ctx, coll, fields); err != nil {
			return fail("ensure-index", coll, "", err)
		}
	}
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	if !slices.ContainsFunc(s.indexes[coll], func(ix []string) bool { return slices.Equal(ix, fields) }) {
		if s.indexes == nil {
			s.indexes = map[string][][]string{}
		}
		s.indexes[coll] = append(s.indexes[coll], slices.Clone(fields))
	}
	return nil
}

// declared returns the field lists EnsureIndex declared for coll.
func (s *Service) declared(coll string) [][]string {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	return s.indexes[coll]
}

// compositeIndexes returns the Admin API's form of the composite indexes
// that serve fields: every field in one direction, then the document ID
// (__name__) in the same direction, once ascending and once descending.
func compositeIndexes(fields []string) []*adminpb.Index {
	var out []*adminpb.Index
	for _, order := range []adminpb.Index_IndexField_Order{adminpb.Index_IndexField_ASCENDING, adminpb.Index_IndexField_DESCENDING} {
		ix := &adminpb.Index{QueryScope: adminpb.Index_COLLECTION}
		for _, f := range append(slices.Clone(fields), "") {
			path := "__name__"
			if f != "" {
				path = quotedPath(f)
			}
			ix.Fields = append(ix.Fields, &adminpb.Index_IndexField{FieldPath: path, ValueMode: &adminpb.Index_IndexField_Order_{Order: order}})
		}
		out = append(out, ix)
	}
	return out
}

// createIndexes creates the composite indexes for fields through the
// Admin API and waits for each to be READY.
func (s *Service) createIndexes(ctx context.Context, coll string, fields []string) error {
	cctx, cancel := s.call(ctx)
	defer cancel()
	ac, err := admin.NewFirestoreAdminClient(cctx, s.adminOpts...)
	if err != nil {
		return classify(ctx, cctx, err)
	}
	defer ac.Close()
	parent := s.collectionGroup(coll)
	for _, ix := range compositeIndexes(fields) {
		op, err := ac.CreateIndex(cctx, &adminpb.CreateIndexRequest{Parent: parent, Index: ix})
		if status.Code(err) == codes.AlreadyExists && ctx.Err() == nil {
			continue
		}
		if err != nil {
			return classify(ctx, cctx, err)
		}
		s.log.Info("firestore: composite index requested", "provider", provider, "collection", coll, "operation", op.Name())
		// Building takes as long as the collection is large: the wait
		// is bounded by the caller's context, not by the call timeout.
		if _, err := op.Wait(ctx); err != nil {
			return classify(ctx, ctx, err)
		}
	}
	return nil
}

// collectionGroup is the Admin API's name of the collection's group:
// projects/P/databases/D/collectionGroups/C, with the project the data
// client resolved.
func (s *Service) collectionGroup(coll string) string {
	root, _, _ := strings.Cut(s.client.Collection(s.prefix+coll).Path, "/documents/")
	return root + "/collectionGroups/" + s.prefix + coll
}

// simpleName is a field name Firestore's field paths need not quote.
var simpleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z_0-9]*$`)

// quotedPath is the field path string the Admin API and
// firestore.indexes.json take for a dotted path: its names (split as
// fieldPath splits them) joined by '.', each one that is not a simple
// name quoted in backticks with '`' and '\' escaped.
func quotedPath(path string) string {
	names := fieldPath(path)
	for i, n := range names {
		if !simpleName.MatchString(n) {
			n = strings.ReplaceAll(n, `\`, `\\`)
			names[i] = "`" + strings.ReplaceAll(n, "`", "\\`") + "`"
		}
	}
	return strings.Join(names, ".")
}

// indexesFile is the firestore.indexes.json format.
type indexesFile struct {
	Indexes        []indexEntry `json:"indexes"`
	FieldOverrides []any        `json:"fieldOverrides"`
}

type indexEntry struct {
	CollectionGroup string       `json:"collectionGroup"`
	QueryScope      string       `json:"queryScope"`
	Fields          []indexField `json:"fields"`
}

type indexField struct {
	FieldPath string `json:"fieldPath"`
	Order     string `json:"order"`
}

// WriteIndexesJSON writes the composite indexes EnsureIndex declared, in
// the firestore.indexes.json format that `firebase deploy --only
// firestore:indexes` reads: for every declaration of two or more fields,
// one index ascending and one descending, on the collection group named
// by the collection with Config.CollectionPrefix. Deploy it with the
// application when Config.ManageIndexes is off.
func (s *Service) WriteIndexesJSON(w io.Writer) error {
	s.idxMu.Lock()
	colls := make([]string, 0, len(s.indexes))
	for c := range s.indexes {
		colls = append(colls, c)
	}
	slices.Sort(colls)
	file := indexesFile{Indexes: []indexEntry{}, FieldOverrides: []any{}}
	for _, c := range colls {
		for _, fields := range s.indexes[c] {
			if len(fields) < 2 {
				continue
			}
			for _, ix := range compositeIndexes(fields) {
				e := indexEntry{CollectionGroup: s.prefix + c, QueryScope: "COLLECTION"}
				for _, f := range ix.Fields {
					e.Fields = append(e.Fields, indexField{FieldPath: f.GetFieldPath(), Order: f.GetOrder().String()})
				}
				file.Indexes = append(file.Indexes, e)
			}
		}
	}
	s.idxMu.Unlock()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(file); err != nil {
		return fmt.Errorf("firestore: writing the index file: %w", err)
	}
	return nil
}
