package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tinyDisk mounts a tmpfs of size bytes for the test (root only) and
// returns its path.
func tinyDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Skipf("mount tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes zeros into dir until its file system is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "ballast"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	for n := len(buf) / 2; n > 0; n /= 2 { // the last few bytes too
		f.Write(buf[:n])
	}
}

// TestDiskFull: with the data folder's disk full, what needs room is
// answered UNAVAILABLE with the reason (never INTERNAL), /readyz says the
// disk is full while /livez stays up, and the server serves again once room
// is made.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	data := tinyDisk(t, "48m")
	s := startServer(t, map[string]string{"DATA_DIR": data, "DISK_MIN_FREE_BYTES": "4194304"})
	token, chatID := chatWithData(t, s)
	csv := strings.Repeat("a,b,c\n1,2,3\n", 50_000)

	fill(t, data)
	ready, err := http.Get(s.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(ready.Body)
	ready.Body.Close()
	if ready.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "disk full") {
		t.Errorf("/readyz with a full disk: %d %s", ready.StatusCode, body)
	}
	if live, err := http.Get(s.url + "/livez"); err != nil || live.StatusCode != http.StatusOK {
		t.Errorf("/livez with a full disk: %v %v", live, err)
	}

	up := s.upload(token, uploadMutation, map[string]any{"f": nil}, "f", "big.csv", strings.NewReader(csv))
	if up.code() != "UNAVAILABLE" || !strings.Contains(up.Errors[0].Message, "disk") {
		t.Errorf("upload with a full disk: %+v", up)
	}
	// Whatever else is asked either works or is UNAVAILABLE.
	for _, q := range []string{
		`mutation { sendMessage(input: {chatID: "` + chatID + `", content: "mean of a?"}) { id } }`,
		`mutation { createGuestSession { token } }`,
		`mutation { signUp(input: {email: "full@example.com", password: "correct horse", name: "F"}) { token } }`,
	} {
		if r := s.do(token, q, nil); len(r.Errors) > 0 && r.code() != "UNAVAILABLE" {
			t.Errorf("%s with a full disk: %+v", q, r)
		}
	}
	var datasets struct {
		Datasets struct{ TotalCount int } `json:"datasets"`
	}
	s.must(token, `{ datasets { totalCount } }`, nil, &datasets)
	if datasets.Datasets.TotalCount != 1 {
		t.Errorf("after a refused upload, %d datasets, want the first one", datasets.Datasets.TotalCount)
	}

	os.Remove(filepath.Join(data, "ballast"))
	up = s.upload(token, uploadMutation, map[string]any{"f": nil}, "f", "big.csv", strings.NewReader(csv))
	if len(up.Errors) > 0 {
		t.Fatalf("upload once room is made: %+v", up)
	}
	var uploaded struct {
		UploadDataset []struct{ ID string } `json:"uploadDataset"`
	}
	if json.Unmarshal(up.Data, &uploaded) != nil || len(uploaded.UploadDataset) != 1 {
		t.Fatalf("upload: %s", up.Data)
	}
	if ready, err := http.Get(s.url + "/readyz"); err != nil || ready.StatusCode != http.StatusOK {
		t.Errorf("/readyz once room is made: %v %v", ready, err)
	}
}
