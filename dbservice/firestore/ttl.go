package firestore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	admin "cloud.google.com/go/firestore/apiv1/admin"
	"cloud.google.com/go/firestore/apiv1/admin/adminpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// EnsureExpiry turns on Firestore's TTL policy for the collection, so that
// Firestore deletes its expired documents itself: the Admin API's
// UpdateField sets a TtlConfig on the expiry field of the collection
// group (the collection's name with the prefix). A policy that is
// already active or being created is left alone (one GetField). Creating
// one is a long-running operation Firestore finishes on its own, usually
// within minutes; EnsureExpiry returns once it has started. Deletion then
// runs typically within a day of expiry, which is why every read filters
// expired documents itself whether or not the policy exists.
//
// It needs the datastore.indexes.update permission (roles/datastore.indexAdmin
// or owner), which data credentials usually lack: ErrForbidden then; run
// it once at deployment with an administrator's credentials, or set the
// policy with `gcloud firestore fields ttls update _expires
// --collection-group=GROUP --enable-ttl`. The emulator has no Admin API:
// ErrUnsupported there (reads filter, so nothing depends on it).
func (s *Service) EnsureExpiry(ctx context.Context, coll string) error {
	if err := s.precheck(ctx, "ensure-expiry", coll, "", false); err != nil {
		return err
	}
	if s.adminOpts == nil {
		return fail("ensure-expiry", coll, "", fmt.Errorf("%w: the firestore emulator has no Admin API for TTL policies", errors.ErrUnsupported))
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	ac, err := admin.NewFirestoreAdminClient(cctx, s.adminOpts...)
	if err != nil {
		return fail("ensure-expiry", coll, "", classify(ctx, cctx, err))
	}
	defer ac.Close()
	name := s.expiryFieldName(coll)
	f, err := ac.GetField(cctx, &adminpb.GetFieldRequest{Name: name})
	switch {
	case status.Code(err) == codes.NotFound && ctx.Err() == nil:
	case err != nil:
		return fail("ensure-expiry", coll, "", classify(ctx, cctx, err))
	default:
		switch f.GetTtlConfig().GetState() {
		case adminpb.Field_TtlConfig_ACTIVE, adminpb.Field_TtlConfig_CREATING:
			return nil
		}
	}
	op, err := ac.UpdateField(cctx, &adminpb.UpdateFieldRequest{
		Field:      &adminpb.Field{Name: name, TtlConfig: &adminpb.Field_TtlConfig{}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"ttl_config"}},
	})
	if err != nil {
		return fail("ensure-expiry", coll, "", classify(ctx, cctx, err))
	}
	s.log.Info("firestore: TTL policy requested", "provider", provider, "collection", coll, "operation", op.Name())
	return nil
}

// expiryFieldName is the Admin API's name of the expiry field in the
// collection's group: projects/P/databases/D/collectionGroups/C/fields/_expires.
// The project is the one the data client resolved (its documents' path
// starts with it).
func (s *Service) expiryFieldName(coll string) string {
	root, _, _ := strings.Cut(s.client.Collection(s.prefix+coll).Path, "/documents/")
	return root + "/collectionGroups/" + s.prefix + coll + "/fields/" + expiresField
}
