// Command wireguard-go runs a WireGuard interface in userspace, from the
// golang.zx2c4.com/wireguard module at the version pinned in e2e/versions.env
// (WIREGUARD_GO_VERSION), for hosts whose kernel has no WireGuard module.
//
//	wireguard-go <interface>
//
// As wg-quick expects of WG_QUICK_USERSPACE_IMPLEMENTATION, it returns once the
// interface exists and `wg` can configure it over its UAPI socket, leaving the
// device running in a detached child (started with WG_PROCESS_FOREGROUND=1).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: wireguard-go <interface>")
		os.Exit(2)
	}
	name := os.Args[1]
	if os.Getenv("WG_PROCESS_FOREGROUND") == "1" {
		if err := run(name); err != nil {
			fmt.Fprintf(os.Stderr, "wireguard-go %s: %v\n", name, err)
			os.Exit(1)
		}
		return
	}
	if err := detach(name); err != nil {
		fmt.Fprintf(os.Stderr, "wireguard-go %s: %v\n", name, err)
		os.Exit(1)
	}
}

// detach starts the device in a child of its own session and waits for its socket.
func detach(name string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, name)
	child.Env = append(os.Environ(), "WG_PROCESS_FOREGROUND=1")
	// No standard streams: whoever runs wg-quick waits for them to close.
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		return err
	}
	socket := filepath.Join("/var/run/wireguard", name+".sock")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(socket); err == nil {
			return child.Process.Release()
		}
	}
	_ = child.Process.Kill()
	return fmt.Errorf("no UAPI socket %s after 10s", socket)
}

func run(name string) error {
	tdev, err := tun.CreateTUN(name, device.DefaultMTU)
	if err != nil {
		return fmt.Errorf("creating TUN: %w", err)
	}
	logger := device.NewLogger(device.LogLevelError, fmt.Sprintf("(%s) ", name))
	dev := device.NewDevice(tdev, conn.NewDefaultBind(), logger)
	fileUAPI, err := ipc.UAPIOpen(name)
	if err != nil {
		return fmt.Errorf("opening UAPI socket: %w", err)
	}
	uapi, err := ipc.UAPIListen(name, fileUAPI)
	if err != nil {
		return fmt.Errorf("listening on UAPI socket: %w", err)
	}
	go func() {
		for {
			c, err := uapi.Accept()
			if err != nil {
				return
			}
			go dev.IpcHandle(c)
		}
	}()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	select {
	case <-stop:
	case <-dev.Wait():
	}
	uapi.Close()
	dev.Close()
	return nil
}
