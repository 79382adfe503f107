package catalog

import (
	_ "embed"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/autoanalyst/autoanalyst/ent/agenttemplate"
	"github.com/autoanalyst/autoanalyst/executor"
)

// The template categories of the original.
const (
	CategoryManipulation  = "Data Manipulation"
	CategoryModelling     = "Data Modelling"
	CategoryVisualization = "Data Visualization"
)

// Categories are the categories a template may have.
var Categories = []string{CategoryManipulation, CategoryModelling, CategoryVisualization}

// Limits of templates.
const (
	// MaxEnabledTemplates is the most templates a user may have enabled.
	MaxEnabledTemplates = 10
	// MaxCustomTemplates is the most custom templates one user may create.
	MaxCustomTemplates = 50
	maxTemplateName    = 100
	maxDisplayName     = 200
	maxDescription     = 2000
	maxPrompt          = 20000
)

//go:embed templates/default.yaml
var defaultTemplatesYAML []byte

// TemplateConfig is a templates configuration file: the built-in templates
// and the names of templates to delete.
type TemplateConfig struct {
	Templates []TemplateSpec `yaml:"templates"`
	Remove    []string       `yaml:"remove"`
}

// TemplateSpec is one built-in template of a configuration file.
type TemplateSpec struct {
	Name           string `yaml:"name"`
	DisplayName    string `yaml:"display_name"`
	Description    string `yaml:"description"`
	Prompt         string `yaml:"prompt"`
	Category       string `yaml:"category"`
	Premium        bool   `yaml:"premium"`
	Variant        string `yaml:"variant"`
	IconURL        string `yaml:"icon_url"`
	BaseAgent      string `yaml:"base_agent"`
	DefaultEnabled bool   `yaml:"default_enabled"`
	// Active is true unless set to false (a template kept but not offered).
	Active *bool `yaml:"active"`
}

// DefaultTemplateConfig returns the embedded configuration: the original's
// templates, with time_series_agent in place of polars_agent.
func DefaultTemplateConfig() (*TemplateConfig, error) {
	return ParseTemplateConfig(defaultTemplatesYAML)
}

// LoadTemplateConfig reads a configuration file; an empty path means the
// embedded default.
func LoadTemplateConfig(path string) (*TemplateConfig, error) {
	if path == "" {
		return DefaultTemplateConfig()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read templates file: %w", err)
	}
	c, err := ParseTemplateConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseTemplateConfig parses and checks a configuration file (YAML; unknown
// keys are refused so that a typo does not go unnoticed).
func ParseTemplateConfig(b []byte) (*TemplateConfig, error) {
	var c TemplateConfig
	if err := yaml.UnmarshalWithOptions(b, &c, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("parse templates configuration: %w", err)
	}
	seen := map[string]bool{}
	for i := range c.Templates {
		t := &c.Templates[i]
		t.Name = strings.TrimSpace(t.Name)
		t.Prompt = strings.TrimSpace(t.Prompt)
		t.Description = strings.TrimSpace(t.Description)
		if t.Variant == "" {
			t.Variant = string(agenttemplate.VariantBOTH)
		}
		if t.DisplayName == "" {
			t.DisplayName = t.Name
		}
		where := fmt.Sprintf("templates[%d] (%s)", i, t.Name)
		switch {
		case !isIdentifier(t.Name):
			return nil, fmt.Errorf("%s: name must be a Python identifier of at most %d characters", where, maxTemplateName)
		case seen[t.Name]:
			return nil, fmt.Errorf("%s: name listed twice", where)
		case t.Prompt == "" || len(t.Prompt) > maxPrompt:
			return nil, fmt.Errorf("%s: prompt must be 1 to %d bytes", where, maxPrompt)
		case !slices.Contains(Categories, t.Category):
			return nil, fmt.Errorf("%s: category must be one of %s", where, strings.Join(Categories, ", "))
		case agenttemplate.VariantValidator(agenttemplate.Variant(t.Variant)) != nil:
			return nil, fmt.Errorf("%s: variant must be INDIVIDUAL, PLANNER or BOTH", where)
		case len(t.DisplayName) > maxDisplayName || len(t.Description) > maxDescription:
			return nil, fmt.Errorf("%s: display_name or description too long", where)
		}
		seen[t.Name] = true
	}
	for i, n := range c.Remove {
		if seen[n] {
			return nil, fmt.Errorf("remove[%d]: %s is also listed under templates", i, n)
		}
	}
	return &c, nil
}

// isIdentifier reports whether s is a valid (ASCII) Python identifier of at
// most maxTemplateName characters that is not a keyword.
func isIdentifier(s string) bool {
	return len(s) <= maxTemplateName && executor.IsIdentifier(s)
}
