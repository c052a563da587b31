package manifests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// ModuleDir returns the module cache directory of path@version: the schemas are files of Go modules, which
// `go mod download` fetches and verifies once.
func ModuleDir(path, version string) (string, error) {
	key := path + "@" + version
	// Outside any module, so that this test module's go.mod plays no part.
	work, err := os.MkdirTemp("", "moddownload-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	cmd := exec.Command(goCommand(), "mod", "download", "-json", key)
	cmd.Dir = work
	// GOTOOLCHAIN=auto: a module whose go.mod asks for a newer Go than this one gets that toolchain (itself a module on the proxy).
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "GO111MODULE=on", "GOTOOLCHAIN=auto")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %v %s %s", key, runErr, info.Error, stderr.String())
	}
	return info.Dir, nil
}

// goCommand is the go command: on the PATH, or the one that built these tests.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}
