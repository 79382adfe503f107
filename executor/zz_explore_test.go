package executor

import (
	"context"
	"testing"
)

func TestExplore(t *testing.T) {
	e, err := New(Config{Sandbox: true})
	if err != nil { t.Fatal(err) }
	defer e.Close()
	ds := []Dataset{{Name: "sales", Path: "testdata/sales.csv", Format: "csv"}}
	for _, code := range []string{
		"import os\nfor p in ['/x', '/etc/x', '/dev/x', '/dev/shm/x', '/tmp/x']:\n    print(p, os.path.exists(p))\n    try: open(p,'w').write('1')\n    except OSError as e: print(e)\nprint(os.listdir('/dev/shm'))",
		"import os\nfor p in ['/x', '/etc/x', '/dev/x', '/dev/shm/x', '/tmp/x']:\n    print(p, os.path.exists(p))\n",
		"import multiprocessing as mp\nl = mp.Lock()\nwith l: print('locked')\nimport os; print(os.listdir('/dev/shm'))\nprint(open('/proc/self/mountinfo').read())",
	} {
		res, err := e.Execute(context.Background(), Request{Key: "a", Datasets: ds, Code: code})
		if err != nil { t.Fatal(err) }
		t.Logf("%+v\n%s\n%s", res.Error, res.Stdout, res.Stderr)
	}
}
