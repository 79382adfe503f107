package executor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// processAlive reports whether a process with this pid exists (and is not a
// zombie).
func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// pyList formats Go strings as a Python list of str literals.
func pyList(items ...string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func TestSandboxNetwork(t *testing.T) {
	e := shared(t)
	// A server on the host's loopback: reachable from the host, not from the
	// sandbox (whose loopback is its own, and down).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			accepted <- struct{}{}
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	if c, err := net.Dial("tcp", ln.Addr().String()); err != nil {
		t.Fatalf("the host itself cannot reach the test server: %v", err)
	} else {
		c.Close()
		<-accepted
	}

	targets := []struct {
		name string
		addr string // Python address tuple
	}{
		{"host test server", fmt.Sprintf("('127.0.0.1', %d)", port)},
		{"postgres on loopback", "('127.0.0.1', 5432)"},
		{"redis on loopback", "('localhost', 6379)"},
		{"ipv6 loopback", "('::1', 5432)"},
		{"public address", "('1.1.1.1', 53)"},
		{"private address", "('10.0.0.1', 80)"},
		{"DNS name", "('example.com', 443)"},
	}
	var code strings.Builder
	code.WriteString("import socket\n")
	for _, tg := range targets {
		fmt.Fprintf(&code, `try:
    socket.create_connection(%s, timeout=3).close()
    print('connected')
except OSError as e:
    print('failed', type(e).__name__)
`, tg.addr)
	}
	code.WriteString(`try:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b'x', ('8.8.8.8', 53))
    print('sent')
except OSError as e:
    print('failed', type(e).__name__)
# Netlink sockets are refused (seccomp), so if_nameindex fails: the
# interfaces come from /proc instead.
try:
    socket.if_nameindex()
    print('netlink allowed')
except OSError as e:
    print('netlink', type(e).__name__)
print([l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]])
`)
	start := time.Now()
	out := runOK(t, e, mainKey, sales, code.String())
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("connections took %s to fail; without a network they fail at once", d)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(targets)+3 {
		t.Fatalf("output %q", out)
	}
	for i, tg := range targets {
		if !strings.HasPrefix(lines[i], "failed ") {
			t.Errorf("%s %s: %s", tg.name, tg.addr, lines[i])
		}
	}
	// IP sockets cannot even be created (seccomp): PermissionError.
	if lines[len(targets)] != "failed PermissionError" {
		t.Errorf("UDP to 8.8.8.8: %s", lines[len(targets)])
	}
	if got := lines[len(targets)+1]; got != "netlink PermissionError" {
		t.Errorf("if_nameindex: %s", got)
	}
	if got := lines[len(targets)+2]; got != "['lo']" {
		t.Errorf("network interfaces %s, want only the sandbox's own loopback", got)
	}
	select {
	case <-accepted:
		t.Fatal("the sandbox reached a server on the host's loopback")
	case <-time.After(100 * time.Millisecond):
	}
}

func TestSandboxEnvironment(t *testing.T) {
	secrets := map[string]string{
		"OPENAI_API_KEY":    "sk-secret-openai",
		"ANTHROPIC_API_KEY": "sk-ant-secret",
		"DATABASE_URL":      "postgres://user:db-secret@localhost/app",
		"AWS_SECRET_KEY":    "aws-secret-value",
		"PYTHONPATH":        "/work/evil",
		"LD_PRELOAD":        "/work/evil.so",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	// (TestUnsandboxed checks the environment without the sandbox.)
	e := newExecutor(t, Config{Sandbox: true, MaxKernels: 1})
	// os.environ, and the environment of every process the execution can
	// read in /proc.
	out := runOK(t, e, "env", sales, `import os, glob
print(sorted(os.environ))
found = []
for path in ['/proc/self/environ'] + glob.glob('/proc/[0-9]*/environ'):
    try:
        with open(path, 'rb') as f:
            found.append(f.read().decode('latin-1'))
    except OSError:
        pass
print(repr(dict(os.environ)) + '|'.join(found))`)
	first, _, _ := strings.Cut(out, "\n")
	for k, v := range secrets {
		if strings.Contains(out, v) || strings.Contains(first, "'"+k+"'") {
			t.Errorf("the execution sees %s", k)
		}
	}
	for _, want := range []string{"'HOME'", "'PATH'", "'MPLBACKEND'"} {
		if !strings.Contains(first, want) {
			t.Errorf("environment %s lacks %s", first, want)
		}
	}
}

func TestSandboxFilesystem(t *testing.T) {
	e := shared(t)
	// Files on the host the sandbox must not see.
	hostDir := t.TempDir()
	secret := filepath.Join(hostDir, "secret.txt")
	if err := os.WriteFile(secret, []byte("host secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	datasetPath, err := filepath.Abs(sales[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	invisible := []string{
		"/work", "/root", "/home", "/sys", "/var", "/opt", "/mnt", "/srv", "/run",
		"/etc/passwd", "/etc/shadow", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/etc/ssh",
		wd,                        // the package directory (testdata, sources)
		filepath.Dir(datasetPath), // the dataset's directory: datasets are passed as descriptors
		datasetPath,
		hostDir, secret, // the test's own temporary files
		os.TempDir() + "/" + filepath.Base(filepath.Dir(hostDir)),
	}
	if home, err := os.UserHomeDir(); err == nil {
		invisible = append(invisible, home)
	}
	t.Run("host paths invisible", func(t *testing.T) {
		out := runOK(t, e, mainKey, sales, "import os\nfor p in "+pyList(invisible...)+":\n    if os.path.lexists(p):\n        print(p)")
		if out != "" {
			t.Fatalf("visible in the sandbox:\n%s", out)
		}
	})
	t.Run("dataset loaded anyway", func(t *testing.T) {
		if out := runOK(t, e, mainKey, sales, "print(df.shape)"); out != "(6, 5)\n" {
			t.Fatalf("stdout %q", out)
		}
	})

	t.Run("read-only system", func(t *testing.T) {
		paths := []string{"/usr/x", "/usr/bin/python3", "/usr/lib/x", "/x", "/etc/x", "/etc/ld.so.cache", "/dev/x", "/bin/x", "/proc/x"}
		out := runOK(t, e, mainKey, sales, `import os
for p in `+pyList(paths...)+`:
    try:
        with open(p, 'a') as f:
            f.write('x')
        print('wrote', p)
    except OSError as e:
        pass
for d in ['/', '/usr', '/etc', '/dev']:
    try:
        os.mkdir(os.path.join(d, 'newdir'))
        print('created a directory in', d)
    except OSError:
        pass`)
		if out != "" {
			t.Fatalf("the sandbox could write outside /tmp:\n%s", out)
		}
	})

	t.Run("writable tmp", func(t *testing.T) {
		out := runOK(t, e, mainKey, sales, `import os, tempfile
with open('/tmp/a.txt', 'w') as f:
    f.write('hello')
with tempfile.NamedTemporaryFile(dir=None) as f:
    print(os.path.dirname(f.name))
with open('/dev/shm/b', 'w') as f:
    f.write('x')
df.to_csv('out.csv')
print(os.getcwd(), sorted(os.listdir('/tmp')), open('/tmp/a.txt').read())`)
		if out != "/tmp\n/tmp ['a.txt', 'out.csv', 'outputs'] hello\n" {
			t.Fatalf("stdout %q", out)
		}
	})

	t.Run("tmp size limit", func(t *testing.T) {
		res := run(t, e, mainKey, sales, "with open('/tmp/big', 'wb') as f:\n    for _ in range(100):\n        f.write(b'x' * (1 << 20))")
		wantErrorType(t, res, "OSError")
		if !strings.Contains(res.Error.Message, "No space left") && !strings.Contains(res.Error.Message, "too large") {
			t.Errorf("message %q", res.Error.Message)
		}
	})

	t.Run("unprivileged and alone", func(t *testing.T) {
		out := runOK(t, e, mainKey, sales, `import os, socket
print(os.getuid(), os.getgid(), os.geteuid())
print(os.getpid(), os.getppid())
print(socket.gethostname())
status = open('/proc/self/status').read()
print([l.split()[1] for l in status.splitlines() if l.startswith('CapEff')][0])`)
		want := sandboxUID + " " + sandboxUID + " " + sandboxUID + "\n1 0\nsandbox\n0000000000000000\n"
		if out != want {
			t.Fatalf("stdout %q, want %q", out, want)
		}
	})
}

// TestDescriptors checks that an execution holds no descriptor of the
// kernel, its forker, other executions or the server: no sockets, pidfds or
// namespace handles, and no pipes but its own output and result.
func TestDescriptors(t *testing.T) {
	e := shared(t)
	for i := range 3 { // several: the later ones are forked next to earlier ones
		out := runOK(t, e, mainKey, sales, `import os
d = os.open('/proc/self/fd', os.O_RDONLY | os.O_DIRECTORY)
for fd in sorted(int(f) for f in os.listdir(d)):
    if fd != d:
        try:
            print(fd, os.readlink('/proc/self/fd/%d' % fd))
        except OSError:
            pass`)
		pipes := 0
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			_, target, _ := strings.Cut(line, " ")
			switch {
			case strings.HasPrefix(target, "pipe:"):
				pipes++
			case target == "/dev/null" || strings.HasPrefix(target, "/usr/"):
			default:
				t.Errorf("execution %d holds descriptor %s", i, line)
			}
		}
		if pipes > 3 { // stdout, stderr, the result
			t.Errorf("execution %d holds %d pipes:\n%s", i, pipes, out)
		}
	}
}

func TestStateIsolation(t *testing.T) {
	e := shared(t)
	runOK(t, e, mainKey, sales, "x = 1")
	pid := kernelPID(t, e, mainKey, sales)
	// sleepers lists the processes running sleep that an execution can see.
	const sleepers = "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and os.path.exists('/proc/%s/cmdline' % p) and b'sleep' in open('/proc/%s/cmdline' % p, 'rb').read()))"
	tests := []struct {
		name, set, check, want string
	}{
		{"variable", "leaked = 42", "print('leaked' in globals())", "False\n"},
		{"dataset modified in place", "df['units'] = 0\ndf.drop(columns=['price'], inplace=True)\nsales.loc[0, 'region'] = 'X'",
			"print(df.shape, int(df['units'].sum()), sales.loc[0, 'region'], df is sales)", "(6, 5) 37 North True\n"},
		{"dataset rebound", "df = None\nsales = 1", "print(type(df).__name__, type(sales).__name__)", "DataFrame DataFrame\n"},
		{"module attribute", "pd.leaked = 1\nimport json\njson.dumps = None", "import json\nprint(hasattr(pd, 'leaked'), json.dumps is None)", "False False\n"},
		{"imported module", "import this", "import sys\nprint('this' in sys.modules)", "False\n"},
		{"pandas option", "pd.set_option('display.max_rows', 3)", "print(pd.get_option('display.max_rows'))", "60\n"},
		{"builtin replaced", "import builtins\nbuiltins.len = lambda x: -1", "print(len([1, 2]))", "2\n"},
		{"file in /tmp", "open('/tmp/leak.txt', 'w').write('x')\nopen('/dev/shm/leak', 'w').write('x')\nopen('/tmp/outputs/leak.csv', 'w').write('x')",
			"import os\nprint(os.listdir('/tmp'), os.listdir('/tmp/outputs'), os.listdir('/dev/shm'))", "['outputs'] [] []\n"},
		{"file in the working directory", "open('leak.txt', 'w').write('x')", "import os\nprint(os.path.exists('leak.txt'))", "False\n"},
		{"environment variable", "import os\nos.environ['LEAK'] = '1'", "import os\nprint('LEAK' in os.environ)", "False\n"},
		{"open matplotlib figure", "plt.figure()\nplt.plot([1, 2])", "print(plt.get_fignums())", "[]\n"},
		{"background thread", "import threading, time\nthreading.Thread(target=lambda: [print('ghost') or time.sleep(0.05) for _ in range(100)], daemon=False).start()",
			"import time\ntime.sleep(0.3)\nprint('quiet')", "quiet\n"},
		{"background process", "import subprocess\nsubprocess.Popen(['sleep', '30'])", sleepers, "[]\n"},
		{"orphaned process", "import subprocess\nsubprocess.run(['sh', '-c', 'sleep 31 &'])", sleepers, "[]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runOK(t, e, mainKey, sales, tt.set)
			if out := runOK(t, e, mainKey, sales, tt.check); out != tt.want {
				t.Fatalf("stdout %q, want %q", out, tt.want)
			}
		})
	}
	if got := kernelPID(t, e, mainKey, sales); got != pid {
		t.Fatalf("kernel pid changed %d -> %d: isolation must not cost a restart", pid, got)
	}
}
