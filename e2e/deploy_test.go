package e2e

// The shipped deployment (deploy/): compose.yaml loads as `docker compose
// config` would load it, nginx passes the Host with its port and hides
// /metrics, Prometheus' configuration and alert rules pass promtool (and the
// rules' unit tests), and every series the alerts and the Grafana dashboard
// read is one README.md's metrics table names. No Docker engine, nginx or
// Prometheus server runs here.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

func TestDeployPrometheus(t *testing.T) {
	promtool := findPromtool(t, "")
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = filepath.Join(repoRoot, "deploy", "prometheus")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func loadDeployCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(repoRoot, "deploy", "compose.yaml")},
		cli.WithName("autoanalyst"),
		// The variables the file interpolates, as an operator's .env sets them.
		cli.WithEnv([]string{"OPENAI_API_KEY=sk-test", "SECRET_KEY=s", "ADMIN_API_KEY=a"}),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("deploy/compose.yaml does not load: %v", err)
	}
	return p
}

func TestDeployCompose(t *testing.T) {
	p := loadDeployCompose(t)
	svc := func(name string) types.ServiceConfig {
		s, err := p.GetService(name)
		if err != nil {
			t.Fatalf("service %s: %v", name, err)
		}
		return s
	}
	for _, name := range []string{"postgres", "redis", "migrate", "api", "worker", "lb", "prometheus", "grafana"} {
		svc(name)
	}

	// Interpolation ran.
	if v := svc("api").Environment["OPENAI_API_KEY"]; v == nil || *v != "sk-test" {
		t.Errorf("api OPENAI_API_KEY = %v, want the interpolated sk-test", v)
	}

	// nginx waits for a healthy API node.
	if d, ok := svc("lb").DependsOn["api"]; !ok || d.Condition != types.ServiceConditionHealthy {
		t.Errorf("lb depends_on api = %+v, want condition service_healthy", d)
	}

	// TRUSTED_PROXIES names nginx's fixed address, inside the network's subnet.
	lbNet := svc("lb").Networks["default"]
	if lbNet == nil || lbNet.Ipv4Address == "" {
		t.Fatal("lb has no fixed ipv4_address on the default network")
	}
	net := p.Networks["default"]
	if len(net.Ipam.Config) == 0 || net.Ipam.Config[0].Subnet == "" {
		t.Fatal("the default network has no explicit subnet")
	}
	for _, name := range []string{"api", "worker"} {
		v := svc(name).Environment["TRUSTED_PROXIES"]
		if v == nil || *v == "" {
			t.Errorf("%s: TRUSTED_PROXIES is not set", name)
			continue
		}
		if *v != lbNet.Ipv4Address && *v != net.Ipam.Config[0].Subnet {
			t.Errorf("%s: TRUSTED_PROXIES = %q, want nginx's %s or the subnet %s", name, *v, lbNet.Ipv4Address, net.Ipam.Config[0].Subnet)
		}
	}

	// Every long-running service has a health check with a start period;
	// migrate runs once.
	for _, s := range p.Services {
		if s.Name == "migrate" {
			continue
		}
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 {
			t.Errorf("%s has no healthcheck", s.Name)
			continue
		}
		if hc.StartPeriod == nil || *hc.StartPeriod == 0 {
			t.Errorf("%s: healthcheck has no start_period", s.Name)
		}
	}
	for name, want := range map[string]string{"api": "localhost:8000/readyz", "worker": "localhost:9090/readyz"} {
		if test := strings.Join(svc(name).HealthCheck.Test, " "); !strings.Contains(test, want) {
			t.Errorf("%s healthcheck %q does not probe %s", name, test, want)
		}
	}

	// What the compose file mounts exists.
	for _, f := range []string{"nginx.conf", "prometheus/prometheus.yml", "prometheus/alerts.yml",
		"grafana/provisioning/datasources/prometheus.yml", "grafana/provisioning/dashboards/autoanalyst.yml",
		"grafana/dashboards/autoanalyst.json"} {
		if _, err := os.Stat(filepath.Join(repoRoot, "deploy", f)); err != nil {
			t.Error(err)
		}
	}
}

func TestDeployNginx(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, want := range []string{
		"proxy_set_header Host $http_host;", // keeps the port: the WebSocket origin check
		"proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
		"proxy_set_header X-Forwarded-Proto $scheme;",
		"location = /metrics { return 404; }",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("deploy/nginx.conf lacks %q", want)
		}
	}
	if strings.Contains(conf, "Host $host;") {
		t.Error("deploy/nginx.conf sets Host to $host, which drops the port")
	}
}

// TestDeployMetricNames: every autoanalyst_* series that alerts.yml and the
// dashboard read is in README.md's metrics table (histograms by their
// _bucket, _sum and _count).
func TestDeployMetricNames(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{} // name → type
	row := regexp.MustCompile("(?m)^\\| `(autoanalyst_[a-z_]+)` \\| (counter|gauge|histogram) \\|")
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = m[2]
	}
	if len(documented) < 20 {
		t.Fatalf("found %d series in README.md's metrics table: has its format changed?", len(documented))
	}
	known := func(name string) bool {
		if _, ok := documented[name]; ok {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && documented[base] == "histogram" {
				return true
			}
		}
		return false
	}
	series := regexp.MustCompile(`autoanalyst_[a-z_]+`)
	check := func(file string, exprs []string) {
		var used []string
		for _, e := range exprs {
			used = append(used, series.FindAllString(e, -1)...)
		}
		if len(used) == 0 {
			t.Errorf("%s reads no autoanalyst_* series", file)
		}
		slices.Sort(used)
		for _, name := range slices.Compact(used) {
			if !known(name) {
				t.Errorf("%s reads %s, which README.md's metrics table does not name", file, name)
			}
		}
	}

	alerts, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	check("alerts.yml", []string{string(alerts)})

	b, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "grafana", "dashboards", "autoanalyst.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if p.Datasource.UID != "prometheus" { // the provisioned datasource's uid
			t.Errorf("panel %q: datasource %q, want the provisioned prometheus", p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	check("autoanalyst.json", exprs)
}
