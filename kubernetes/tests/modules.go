package manifests

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// The schemas are files of Go modules: `go mod download` fetches and verifies them once.

var (
	moduleDirsMu sync.Mutex
	moduleDirs   = map[string]moduleResult{}
)

type moduleResult struct {
	dir string
	err error
}

// ModuleDir returns the module cache directory of path@version, downloading it if needed.
func ModuleDir(path, version string) (string, error) {
	key := path + "@" + version
	moduleDirsMu.Lock()
	defer moduleDirsMu.Unlock()
	if r, ok := moduleDirs[key]; ok {
		return r.dir, r.err
	}
	dir, err := downloadModule(key, "local")
	if err != nil && strings.Contains(err.Error(), "requires go >=") {
		// The module's go.mod asks for a newer Go than this one: let the go command fetch that
		// toolchain (itself a module on the proxy) just for the download.
		dir, err = downloadModule(key, "auto")
	}
	moduleDirs[key] = moduleResult{dir, err}
	return dir, err
}

// goCommand is the go command: on the PATH, or the one that built these tests.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func downloadModule(key, toolchain string) (string, error) {
	goBin := goCommand()
	// Outside any module, so that this test module's go.mod plays no part.
	work, err := os.MkdirTemp("", "moddownload-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	cmd := exec.Command(goBin, "mod", "download", "-json", key)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "GO111MODULE=on", "GOTOOLCHAIN="+toolchain)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var info struct {
		Dir   string
		Error string
	}
	if len(out) > 0 {
		if err := json.Unmarshal(out, &info); err != nil {
			return "", fmt.Errorf("go mod download %s: %v: %s", key, err, out)
		}
	}
	if info.Error != "" {
		return "", fmt.Errorf("go mod download %s: %s", key, info.Error)
	}
	if runErr != nil {
		return "", fmt.Errorf("go mod download %s: %v: %s", key, runErr, stderr.String())
	}
	if info.Dir == "" {
		return "", errors.New("go mod download " + key + ": no directory in its answer")
	}
	return info.Dir, nil
}
