/*
 * Programs the recorder will not see. Before an exec (or posix_spawn) the recorder looks at the program about to
 * run; when the dynamic loader will not load the recorder into it, its calls will be missing from the recording
 * and no trace of it will appear, so the recorder says why in a line of OUT.unrecorded, which `ptreplay record`
 * reports and removes (pid: the process that execs, or posix_spawn's child):
 *
 *   pid \t reason \t path \t argv (joined by spaces; tabs and newlines become spaces)
 *
 * Reasons: "static" (an ELF executable without PT_INTERP: no dynamic loader, no LD_PRELOAD), "setuid" / "setgid"
 * (the set-id bit, on a file system not mounted nosuid, makes the kernel run it in secure mode, where the loader
 * ignores an LD_PRELOAD path; file capabilities do too, and are not detected), and
 * "no-preload" (the environment given to the program has no LD_PRELOAD naming libptrecord). A script ("#!") is
 * judged by its interpreter. Only raw system calls and the stack: this runs in vfork children too, before exec, and
 * leaves errno as it found it. Nothing is written when children are not followed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include "ptrecord.h"
#include "sys.h"

extern char **environ;

#define PTR_PATH_MAX 4096

static int has_prefix(const char *s, const char *prefix)
{
    while (*prefix) {
        if (*s++ != *prefix++) {
            return 0;
        }
    }
    return 1;
}

static const char *find_var(char *const envp[], const char *name_eq)
{
    for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
        if (has_prefix(envp[i], name_eq)) {
            return envp[i];
        }
    }
    return NULL;
}

static int contains(const char *s, const char *needle)
{
    for (; *s; s++) {
        if (has_prefix(s, needle)) {
            return 1;
        }
    }
    return 0;
}

static size_t copy_n(char *dst, size_t at, size_t cap, const char *src, size_t n)
{
    for (size_t i = 0; i < n && src[i] && at + 1 < cap; i++) {
        char c = src[i];
        dst[at++] = (c == '\t' || c == '\n') ? ' ' : c;
    }
    dst[at] = 0;
    return at;
}

static size_t copy_str(char *dst, size_t at, size_t cap, const char *src) { return copy_n(dst, at, cap, src, (size_t)-1); }

/* Appends one character as is (a field separator), keeping the NUL; at stays below cap. */
static size_t put_char(char *dst, size_t at, size_t cap, char c)
{
    if (at + 1 < cap) {
        dst[at++] = c;
        dst[at] = 0;
    }
    return at;
}

/* A regular file the caller may execute: 1, with its stat in st. */
static int executable(const char *path, struct stat *st)
{
    if (ptr_sys6(SYS_newfstatat, -100, (long)path, (long)st, 0, 0, 0) != 0) {
        return 0;
    }
    return S_ISREG(st->st_mode) && (st->st_mode & 0111) != 0;
}

/* execvp's search: FILE as is when it has a slash, else the first executable PATH entry (PATH from envp). */
static int resolve(const char *file, char *const envp[], char *out, size_t cap)
{
    struct stat st;
    if (contains(file, "/")) {
        copy_str(out, 0, cap, file);
        return 1;
    }
    const char *path = find_var(envp, "PATH=");
    path = path != NULL ? path + 5 : "/bin:/usr/bin";
    while (1) {
        const char *end = path;
        while (*end && *end != ':') {
            end++;
        }
        size_t at = end == path ? copy_str(out, 0, cap, ".") : copy_n(out, 0, cap, path, (size_t)(end - path));
        at = copy_str(out, at, cap, "/");
        copy_str(out, at, cap, file);
        if (executable(out, &st)) {
            return 1;
        }
        if (!*end) {
            return 0;
        }
        path = end + 1;
    }
}

/* Why PATH will not load the recorder, or NULL. depth: "#!" interpreters followed. */
static const char *why_unrecorded(const char *path, int depth)
{
    struct stat st;
    if (depth > 2 || !executable(path, &st)) {
        return NULL; /* the exec will fail, or it runs something we cannot judge */
    }
    struct statfs fs;
    int nosuid = ptr_sys3(SYS_statfs, path, &fs, 0) == 0 && (fs.f_flags & ST_NOSUID); /* the bits are ignored there */
    if (!nosuid && (st.st_mode & S_ISUID) && st.st_uid != (uid_t)ptr_sys3(SYS_getuid, 0, 0, 0)) {
        return "setuid";
    }
    if (!nosuid && (st.st_mode & S_ISGID) && st.st_gid != (gid_t)ptr_sys3(SYS_getgid, 0, 0, 0)) {
        return "setgid";
    }
    int fd = (int)ptr_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        return NULL;
    }
    const char *why = NULL;
    Elf64_Ehdr eh;
    long n = ptr_sys6(SYS_pread64, fd, (long)&eh, sizeof eh, 0, 0, 0);
    if (n >= 2 && ((const char *)&eh)[0] == '#' && ((const char *)&eh)[1] == '!') {
        char line[256];
        long m = ptr_sys6(SYS_pread64, fd, (long)line, sizeof line - 1, 2, 0, 0);
        ptr_close(fd);
        if (m <= 0) {
            return NULL;
        }
        line[m] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        char *e = p;
        while (*e && *e != ' ' && *e != '\t' && *e != '\n') {
            e++;
        }
        *e = 0;
        return *p ? why_unrecorded(p, depth + 1) : NULL;
    }
    if (n == (long)sizeof eh && eh.e_ident[EI_MAG0] == ELFMAG0 && eh.e_ident[EI_MAG1] == ELFMAG1 &&
        eh.e_ident[EI_MAG2] == ELFMAG2 && eh.e_ident[EI_MAG3] == ELFMAG3 && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
        eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum > 0) {
        int interp = 0, complete = 1;
        for (unsigned i = 0; i < eh.e_phnum && i < 256; i++) {
            Elf64_Phdr ph;
            if (ptr_sys6(SYS_pread64, fd, (long)&ph, sizeof ph, (long)(eh.e_phoff + (uint64_t)i * sizeof ph), 0, 0) !=
                (long)sizeof ph) {
                complete = 0;
                break;
            }
            interp |= ph.p_type == PT_INTERP;
        }
        /* ET_DYN without PT_INTERP is left alone: the dynamic loader itself run as a program is one (it loads LD_PRELOAD) */
        if (complete && !interp && eh.e_type == ET_EXEC) {
            why = "static";
        }
    }
    ptr_close(fd);
    return why;
}

/* Appends LINE (LEN bytes, newline included) to OUT.unrecorded in one write. */
static void append_note(const char *line, size_t len)
{
    char note[PTR_PATH_MAX + 16];
    size_t p = copy_str(note, 0, sizeof note, ptr_proc.out_base);
    copy_str(note, p, sizeof note, ".unrecorded");
    int fd = (int)ptr_open(note, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ptr_write(fd, line, len);
        ptr_close(fd);
    }
}

static size_t put_pid(char *line, size_t cap, int pid)
{
    char digits[16];
    int k = 0;
    do {
        digits[k++] = (char)('0' + pid % 10);
        pid /= 10;
    } while (pid > 0 && k < 15);
    size_t at = 0;
    while (k > 0 && at + 1 < cap) {
        line[at++] = digits[--k];
    }
    line[at] = 0;
    return at;
}

/*
 * At start: when the program (or a library loaded before the recorder) defines malloc itself, the dynamic linker binds
 * every malloc call to that definition, which comes before LD_PRELOAD in the lookup order (rustc links jemalloc into its
 * executable): the recorder sees only what that allocator forwards, if anything. Noted with reason "own-malloc" and,
 * as path, the module that defines it.
 */
void ptr_note_own_malloc(void)
{
    if (ptr_proc.fd < 0 || ptr_proc.out_base[0] == 0) {
        return;
    }
    Dl_info found, self;
    const Elf64_Sym *sym = NULL;
    void *global = dlsym(RTLD_DEFAULT, "malloc");
    if (global == NULL || dladdr1(global, &found, (void **)&sym, RTLD_DL_SYMENT) == 0 ||
        dladdr((void *)&ptr_note_own_malloc, &self) == 0 ||
        found.dli_fbase == self.dli_fbase || found.dli_fname == NULL) {
        return;
    }
    /* A non-PIE executable that takes malloc's address makes its PLT stub malloc's canonical address: dlsym returns it,
       but its symbol there is undefined (SHN_UNDEF): nothing is defined. */
    if (sym == NULL || sym->st_shndx == SHN_UNDEF || found.dli_sname == NULL || found.dli_saddr != global ||
        !has_prefix(found.dli_sname, "malloc") || found.dli_sname[6] != 0) {
        return;
    }
    char line[2048];
    size_t at = put_pid(line, sizeof line, ptr_getpid());
    at = put_char(line, at, sizeof line, '\t');
    at = copy_str(line, at, sizeof line, "own-malloc");
    at = put_char(line, at, sizeof line, '\t');
    char exe[PTR_PATH_MAX];
    const char *module = found.dli_fname;
    if (module[0] != '/') { /* the main program: dladdr gives "" or argv[0] */
        long n = ptr_readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        module = exe;
    }
    at = copy_str(line, at, sizeof line, module);
    at = put_char(line, at, sizeof line, '\t');
    char cmdline[1024];
    int fd = (int)ptr_open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC, 0);
    long n = fd >= 0 ? ptr_read(fd, cmdline, sizeof cmdline - 1) : 0;
    if (fd >= 0) {
        ptr_close(fd);
    }
    for (long i = 0; i < n; i++) {
        cmdline[i] = cmdline[i] == 0 ? ' ' : cmdline[i];
    }
    while (n > 0 && cmdline[n - 1] == ' ') {
        n--;
    }
    cmdline[n > 0 ? n : 0] = 0;
    at = copy_str(line, at, sizeof line, cmdline);
    at = put_char(line, at, sizeof line, '\n');
    if (line[at - 1] != '\n') {
        line[at - 1] = '\n';
    }
    append_note(line, at);
}

void ptr_note_unrecorded_exec(const char *file, int search_path, char *const argv[], char *const envp[], int pid)
{
    if (!ptr_proc.follow || ptr_proc.out_base[0] == 0 || file == NULL) {
        return;
    }
    char *const *env = envp != NULL ? envp : environ;
    char path[PTR_PATH_MAX];
    if (search_path) {
        if (!resolve(file, env, path, sizeof path)) {
            return;
        }
    } else {
        copy_str(path, 0, sizeof path, file);
    }
    const char *why = why_unrecorded(path, 0);
    if (why == NULL) {
        const char *preload = find_var(env, "LD_PRELOAD=");
        struct stat st;
        if ((preload == NULL || !contains(preload, "libptrecord")) && executable(path, &st)) {
            why = "no-preload";
        }
    }
    if (why == NULL) {
        return;
    }
    char line[2048];
    size_t at = put_pid(line, sizeof line, pid > 0 ? pid : ptr_getpid());
    at = put_char(line, at, sizeof line, '\t');
    at = copy_str(line, at, sizeof line, why);
    at = put_char(line, at, sizeof line, '\t');
    at = copy_str(line, at, sizeof line, path);
    at = put_char(line, at, sizeof line, '\t');
    for (size_t i = 0; argv != NULL && argv[i] != NULL; i++) {
        if (i > 0) {
            at = put_char(line, at, sizeof line, ' ');
        }
        at = copy_str(line, at, sizeof line, argv[i]);
    }
    at = put_char(line, at, sizeof line, '\n');
    if (line[at - 1] != '\n') {
        line[at - 1] = '\n'; /* cut short: the line still ends */
    }
    append_note(line, at);
}
