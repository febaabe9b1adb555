package bench

import (
	"bufio"
	"os"
	"runtime"
	"strings"
	"time"
)

// DescribeMachine returns what is known about this machine and about the
// file system holding dir.
func DescribeMachine(dir string) Machine {
	m := Machine{
		CPU:   cpuModel(),
		Cores: runtime.NumCPU(),
		OS:    runtime.GOOS,
		Arch:  runtime.GOARCH,
		Dir:   dir,
		Go:    runtime.Version(),
		Date:  time.Now().UTC().Format(time.RFC3339),
	}
	m.Kernel, m.MemBytes = kernelAndMemory()
	m.FS, _ = FileSystem(dir)
	return m
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or GOARCH.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
