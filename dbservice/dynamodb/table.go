package dynamodb

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// createTimeout bounds creating one table and waiting for it to be ACTIVE.
const createTimeout = 5 * time.Minute

// pitrAttempts bounds retries of UpdateContinuousBackups while AWS is
// still setting up backups for a fresh table
// (ContinuousBackupsUnavailableException).
const pitrAttempts = 8

func (s *Service) known(table string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tables[table]
}

func (s *Service) remember(table string) {
	s.mu.Lock()
	s.tables[table] = true
	s.mu.Unlock()
}

func (s *Service) forget(table string) {
	s.mu.Lock()
	delete(s.tables, table)
	s.mu.Unlock()
}

// knownTables returns the tables this Service has used.
func (s *Service) knownTables() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.tables))
	for t := range s.tables {
		out = append(out, t)
	}
	return out
}

// ensureTable makes sure table exists and is ACTIVE, creating it when it
// does not. Known tables cost nothing, so the hot path makes no extra call.
// Concurrent callers share one creation, which runs under the Service's
// own context: a caller that gives up does not abort it for the others.
func (s *Service) ensureTable(ctx context.Context, table string) error {
	if s.known(table) {
		return nil
	}
	ch := s.creating.DoChan(table, func() (any, error) {
		cctx, cancel := context.WithTimeout(s.base, createTimeout)
		defer cancel()
		return nil, s.provision(cctx, table)
	})
	select {
	case <-ctx.Done():
		return ctx.Err()
	case r := <-ch:
		return r.Err
	}
}

// provision describes table and, when it is missing, creates it with the
// secure defaults: on-demand billing, server-side encryption with KMS
// (cfg.KMSKeyID or the AWS managed key), then point-in-time recovery and
// time to live on the expiry attribute once it is ACTIVE. Errors are
// classified.
func (s *Service) provision(ctx context.Context, table string) error {
	out, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	switch {
	case err == nil:
		if out.Table != nil && out.Table.TableStatus != types.TableStatusActive {
			if err := s.waitActive(ctx, table); err != nil {
				return err
			}
		}
		s.remember(table)
		return nil
	case errorCode(err) != codeNotFound:
		return classify(ctx, err)
	}
	_, err = s.client.CreateTable(ctx, s.createTableInput(table))
	created := err == nil
	if err != nil && errorCode(err) != codeInUse {
		// ResourceInUse: another process is creating it; wait like it.
		return classify(ctx, err)
	}
	if err := s.waitActive(ctx, table); err != nil {
		return err
	}
	if created {
		if err := s.enablePITR(ctx, table); err != nil {
			return err
		}
		if err := s.enableTTL(ctx, table); err != nil {
			return err
		}
	}
	s.remember(table)
	return nil
}

func (s *Service) createTableInput(table string) *dynamodb.CreateTableInput {
	sse := &types.SSESpecification{Enabled: aws.Bool(true), SSEType: types.SSETypeKms}
	if s.kmsKeyID != "" {
		sse.KMSMasterKeyId = aws.String(s.kmsKeyID)
	}
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(idAttr), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(idAttr), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
		SSESpecification:     sse,
	}
}

// waitActive waits with the SDK's TableExists waiter, polling every 1 to 5
// seconds instead of its default 20 to 120: on-demand tables are usually
// ACTIVE within seconds.
func (s *Service) waitActive(ctx context.Context, table string) error {
	w := dynamodb.NewTableExistsWaiter(s.client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = time.Second
		o.MaxDelay = 5 * time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, createTimeout); err != nil {
		return classify(ctx, err)
	}
	return nil
}

// enablePITR turns on point-in-time recovery. A server without the API
// (DynamoDB Local answers UnknownOperationException) is not an error: the
// table works, and CheckPosture reports the missing backups as a warning.
func (s *Service) enablePITR(ctx context.Context, table string) error {
	in := &dynamodb.UpdateContinuousBackupsInput{
		TableName:                        aws.String(table),
		PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)},
	}
	delay := time.Second
	for attempt := 1; ; attempt++ {
		_, err := s.client.UpdateContinuousBackups(ctx, in)
		switch code := errorCode(err); {
		case err == nil:
			return nil
		case code == codeUnknownOperation:
			if !s.pitrMissing.Swap(true) {
				s.log.Warn("dynamodb: the server has no point-in-time recovery API; tables are created without backups",
					"provider", provider, "table", table)
			}
			return nil
		case code == codeBackupsLagging && attempt < pitrAttempts:
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			delay = min(2*delay, 10*time.Second)
		default:
			return classify(ctx, err)
		}
	}
}
