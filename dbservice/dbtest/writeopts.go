package dbtest

import (
	"testing"

	"github.com/securedb-go/securedb/dbservice"
)

// testEmptyIfRev: IfRev("") is a caller's bug (a revision that was never
// read), and taking it as "no condition" would overwrite whatever is
// stored. It must be ErrInvalid and write nothing, for Save and Delete.
func testEmptyIfRev(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	mustSave(t, s, coll, "kept", dbservice.Doc{"v": "original"})
	_, err := s.Save(ctx(t), coll, "kept", dbservice.Doc{"v": "overwritten"}, dbservice.IfRev(""))
	wantErr(t, `Save with IfRev("")`, err, dbservice.ErrInvalid)
	_, err = s.Save(ctx(t), coll, "fresh", dbservice.Doc{"v": "created"}, dbservice.IfRev(""))
	wantErr(t, `Save of a new document with IfRev("")`, err, dbservice.ErrInvalid)
	err = s.Delete(ctx(t), coll, "kept", dbservice.IfRev(""))
	wantErr(t, `Delete with IfRev("")`, err, dbservice.ErrInvalid)
	if d := mustGet(t, s, coll, "kept"); d["v"] != "original" {
		t.Fatalf(`IfRev("") wrote: v = %v, want "original"`, d["v"])
	}
	_, err = s.Get(ctx(t), coll, "fresh")
	wantErr(t, `Get of the document Save with IfRev("") was refused for`, err, dbservice.ErrNotFound)
}
