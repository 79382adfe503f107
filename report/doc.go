// Package report stores deep-analysis reports for their owners (Store: each
// user reads and deletes only their own) and renders a deep analysis as one
// self-contained HTML page (Render):
// the question, the research questions, the analysis and its insights with
// every Plotly figure interactive, the generated code (collapsible, with a
// copy button), the conclusion with key takeaways and next steps, and print
// styles. The page opens offline: Plotly's JavaScript is inlined (from the
// installed plotly package, see LoadPlotly and PlotlyLoader, which also asks
// Python's plotly for it), never linked from a CDN.
//
// Everything in a Report comes from a model or from code a model wrote, so
// all of it is escaped: text is shown as text (paragraphs and "- " lists,
// no HTML), and figures travel as JSON inside script elements that cannot
// be closed early.
package report
