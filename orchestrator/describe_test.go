package orchestrator

import (
	"testing"

	"github.com/autoanalyst/autoanalyst/column"
	"github.com/autoanalyst/autoanalyst/ent"
)

// TestDescribePromptGolden renders the dataset-description prompt for one
// dataset and for two, from their stored profiles.
func TestDescribePromptGolden(t *testing.T) {
	p, err := loadPrompts()
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{prompts: p}
	housing := &ent.Dataset{Name: "housing", FileName: "housing.csv", RowCount: 545, Description: "House prices in one city.",
		Columns: []column.Profile{
			{Name: "price", Dtype: "int64", DistinctCount: ptr[int64](219), Min: ptr(1750000.0), Max: ptr(13300000.0)},
			{Name: "area", Dtype: "float64", NullCount: 3, DistinctCount: ptr[int64](284), Min: ptr(1650.0), Max: ptr(16200.5)},
			{Name: "furnishingstatus", Dtype: "object", DistinctCount: ptr[int64](3), TopValues: []column.ValueCount{
				{Value: "semi-furnished", Count: 227}, {Value: "unfurnished", Count: 178}, {Value: "furnished", Count: 140}}},
		}}
	targets := &ent.Dataset{Name: "targets", FileName: "sales.xlsx", Sheet: "Targets", RowCount: 4,
		Columns: []column.Profile{
			{Name: "region", Dtype: "object", DistinctCount: ptr[int64](4), TopValues: []column.ValueCount{{Value: "North", Count: 1}}},
			// A column stored before profiles had statistics.
			{Name: "target", Dtype: "int64"},
		}}
	for _, tc := range []struct {
		name string
		ds   []*ent.Dataset
	}{
		{"describe_one", []*ent.Dataset{housing}},
		{"describe_two", []*ent.Dataset{housing, targets}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.describePrompt(tc.ds)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "prompt_"+tc.name, got)
		})
	}
}
