// Package dbtest is the conformance suite every dbservice provider passes,
// in the manner of go-cloud's drivertest: a provider's test calls Run with a
// constructor and proves, against a real server, that it behaves exactly
// like every other provider.
//
// The suite covers the type round trip of the JSON data model, not-found,
// upsert, IfAbsent and IfRev conflicts, delete, paging exactly-once across
// page sizes and concurrent writes, every condition operator including
// nested paths and type mismatches, projection, hostile input, EnsureIndex,
// concurrent read-modify-write with IfRev losing no update, cancelled
// contexts, collection isolation, Close, and error hygiene; and the data
// API: Update's mutations and their refusals, concurrent updates, GetMany,
// DeleteMany, Count under the scan budget, Contains and Prefix, expiry.
//
// Each case uses fresh, randomly named collections, so the suite can run
// against a shared server without cleanup between cases.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
)

// NewService returns a ready Service for one test case. It should register
// any cleanup with t.Cleanup; the suite closes the Service itself.
type NewService func(t *testing.T) dbservice.Service

// Case is one named part of the contract.
type Case struct {
	Name string
	Run  func(t *testing.T, s dbservice.Service)
}

// Cases returns the contract, in the order Run runs it.
func Cases() []Case {
	return []Case{
		{"RoundTripKeepsEveryJSONType", testRoundTrip},
		{"MissingDocumentsAreNotFound", testNotFound},
		{"SaveReplacesTheWholeDocument", testUpsert},
		{"IfAbsentRefusesAnExistingDocument", testIfAbsent},
		{"IfRevRefusesAStaleRevision", testIfRev},
		{"DeleteRemovesOnce", testDelete},
		{"PagingReturnsEveryDocumentExactlyOnce", testPaging},
		{"PagingSurvivesConcurrentWrites", testPagingConcurrentWrites},
		{"ConditionsFollowTheReferenceSemantics", testConditions},
		{"OrderByFollowsTheOrderAcrossTypes", testOrderAcrossTypes},
		{"OrderByTwoFieldsBreaksTiesByID", testOrderTwoFields},
		{"OrderedPagingReturnsEveryDocumentOnceInOrder", testOrderedPaging},
		{"OrderedQueryOverTheBudgetIsRefused", testOrderedQueryOverBudget},
		{"ScanBudgetBoundsEveryCallAndAllFindsEveryMatch", testScanBudget},
		{"TimeRangesCompareInstants", testTimeRanges},
		{"ProjectionReturnsOnlyTheFields", testProjection},
		{"HostileInputIsRefusedAndWritesNothing", testHostile},
		{"HostileQueriesAreRefused", testHostileQueries},
		{"EnsureIndexIsIdempotent", testEnsureIndex},
		{"ConcurrentIfRevIncrementsLoseNothing", testConcurrentIncrements},
		{"ConcurrentIfAbsentHasOneWinner", testConcurrentIfAbsent},
		{"CancelledContextStopsTheCall", testCancelled},
		{"CollectionsAreIsolated", testIsolation},
		{"TypedHelpersRoundTrip", testTyped},
		{"ErrorsAreTypedAndLeakNothing", testErrorHygiene},
		{"CloseMakesCallsFailWithErrClosed", testClose},
		{"BackupKeepsEveryNumber", testBackupKeepsEveryNumber},
		{"EmptyIfRevIsRefused", testEmptyIfRev},
		{"ForgedCursorsAreRefused", testForgedCursors},
		{"UpdateAppliesEveryMutation", testUpdateMutations},
		{"UpdateRefusesWhatDoesNotFitAndWritesNothing", testUpdateConditions},
		{"HostileMutationsAreRefused", testHostileMutations},
		{"ConcurrentUpdateIncrementsLoseNothing", testConcurrentUpdates},
		{"GetManyReturnsFoundAndMissingInOrder", testGetMany},
		{"DeleteManyRemovesAndSkipsMissing", testDeleteMany},
		{"CountAgreesWithQueryUnderTheBudget", testCount},
		{"ContainsAndPrefixFollowTheReference", testContainsPrefix},
		{"ExpiredDocumentsAreGoneEverywhere", testExpiry},
	}
}

// Run runs every case of the contract against services made by newService.
func Run(t *testing.T, newService NewService) {
	t.Helper()
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			s := newService(t)
			t.Cleanup(func() { _ = s.Close() })
			c.Run(t, s)
		})
	}
}

// Collection returns a fresh collection name that satisfies
// validate.CollectionPattern, unique per call.
func Collection(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b[:])
}

func ctx(t *testing.T) context.Context { return t.Context() }
