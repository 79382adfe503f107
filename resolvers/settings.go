package resolvers

import (
	"github.com/autoanalyst/autoanalyst/graph/model"
	"github.com/autoanalyst/autoanalyst/modelsetting"
)

// modelSettings maps a user's settings to GraphQL (nil stays nil).
func modelSettings(st *modelsetting.Settings) *model.ModelSettings {
	if st == nil {
		return nil
	}
	out := &model.ModelSettings{Provider: &st.Provider, Model: st.Model, Temperature: st.Temperature, HasCustomKey: st.HasCustomKey}
	if st.MaxTokens > 0 {
		out.MaxTokens = &st.MaxTokens
	}
	return out
}
