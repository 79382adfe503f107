package dataset

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// sampleHousing is the sample dataset: 545 houses with their price, area,
// rooms, stories, amenities, parking and furnishing (synthetic, shaped like
// the original's housing-prices sample).
//
//go:embed sample/housing.csv
var sampleHousing []byte

// SampleDescription describes the sample dataset.
const SampleDescription = "Housing prices: 545 houses with price, area (sq ft), bedrooms, bathrooms, stories, " +
	"road access, guest room, basement, hot-water heating, air conditioning, parking spaces, preferred area " +
	"and furnishing status. A sample to try the analysis on."

// LoadSample gives the viewer the sample housing-prices dataset, read and
// profiled like an upload (named housing, or housing_2 and so on when the
// viewer has one).
func (s *Service) LoadSample(ctx context.Context) (*ent.Dataset, error) {
	ds, err := s.Upload(ctx, UploadInput{
		File:        bytes.NewReader(sampleHousing),
		FileName:    "housing.csv",
		Name:        "housing",
		Description: SampleDescription,
	})
	if err != nil {
		return nil, err
	}
	return ds[0], nil
}

// Delete removes one of the viewer's datasets, its stored file and its
// parsed form; the chats that used it lose it (their next execution no
// longer sees it).
// Another user's dataset is not found.
func (s *Service) Delete(ctx context.Context, id string) error {
	if _, err := viewer.Require(ctx); err != nil {
		return err
	}
	d, err := s.DB.Dataset.Get(ctx, id)
	if ent.IsNotFound(err) {
		return &errcode.Error{Code: errcode.NotFound, Field: "id", Message: "dataset not found"}
	}
	if err != nil {
		return fmt.Errorf("load dataset %s: %w", id, err)
	}
	if err := s.DB.Dataset.DeleteOne(d).Exec(ctx); err != nil {
		return fmt.Errorf("delete dataset %s: %w", id, err)
	}
	// The row is gone; a file left behind by a failed delete is only space.
	if err := s.deleteStored(context.WithoutCancel(ctx), d.StorageKey); err != nil {
		return fmt.Errorf("delete the file of dataset %s: %w", id, err)
	}
	return nil
}
