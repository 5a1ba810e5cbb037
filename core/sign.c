/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Module signing: the MOK key pair made with OpenSSL, and the kernel's own
 * sign-file to append the signature.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define SIGN_CN	      "DKMS module signing key"
#define SIGN_RSA_BITS 2048
#define SIGN_DAYS     36500

/* The last OpenSSL error as text, for messages. */
static const char *sign_ossl_error(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (!e)
		return "unknown OpenSSL error";
	ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static bool sign_add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	bool ok;

	if (!ext)
		return false;
	ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/* A self-signed code-signing certificate for pkey. */
static X509 *sign_make_cert(EVP_PKEY *pkey)
{
	static const struct {
		int nid;
		const char *value;
	} exts[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, "digitalSignature" },
		{ NID_ext_key_usage, "codeSigning" },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
	};
	unsigned char serial[16];
	X509 *x = X509_new();
	X509_NAME *name;
	BIGNUM *bn = NULL;
	X509V3_CTX v3;
	bool ok;

	if (!x)
		return NULL;
	ok = X509_set_version(x, X509_VERSION_3) == 1 && RAND_bytes(serial, sizeof(serial)) == 1;
	if (ok) {
		serial[0] &= 0x7f; /* positive */
		serial[0] |= 0x40; /* and a full 16 bytes */
		bn = BN_bin2bn(serial, sizeof(serial), NULL);
		ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
		BN_free(bn);
	}
	ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
	     X509_time_adj_ex(X509_getm_notAfter(x), SIGN_DAYS, 0, NULL);
	name = X509_get_subject_name(x);
	ok = ok &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)SIGN_CN, -1, -1, 0);
	ok = ok && X509_set_issuer_name(x, name) == 1 && X509_set_pubkey(x, pkey) == 1;
	if (ok) {
		X509V3_set_ctx_nodb(&v3);
		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
		for (size_t i = 0; ok && i < DKMS_ARRAY_SIZE(exts); i++)
			ok = sign_add_ext(x, &v3, exts[i].nid, exts[i].value);
	}
	ok = ok && X509_sign(x, pkey, EVP_sha256()) > 0;
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int sign_mkdir_parent(const char *path)
{
	char *copy = dkms_strdup(path);
	int r = dkms_mkdir_p(dirname(copy), 0755);

	free(copy);
	return r;
}

/* Write the PEM key (0600) then the DER certificate; on failure leave neither. */
static int sign_write_pair(struct dkms_ctx *ctx, EVP_PKEY *pkey, X509 *x)
{
	char ebuf[256];
	BIO *bio = BIO_new(BIO_s_mem());
	unsigned char *der = NULL;
	char *pem = NULL;
	long pem_len;
	int der_len, r;

	if (!bio || !PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(bio);
		return dkms_err_set(ctx, DKMS_E_FAIL, "cannot encode the signing key %s: %s", ctx->mok_key,
				    sign_ossl_error(ebuf, sizeof(ebuf)));
	}
	der_len = i2d_X509(x, &der);
	if (der_len <= 0) {
		BIO_free(bio);
		return dkms_err_set(ctx, DKMS_E_FAIL, "cannot encode the certificate %s: %s", ctx->mok_cert,
				    sign_ossl_error(ebuf, sizeof(ebuf)));
	}
	pem_len = BIO_get_mem_data(bio, &pem);

	r = sign_mkdir_parent(ctx->mok_key);
	if (r == 0)
		r = dkms_write_file_atomic(ctx->mok_key, pem, (size_t)pem_len, 0600);
	OPENSSL_cleanse(pem, (size_t)pem_len);
	BIO_free(bio);
	if (r < 0) {
		OPENSSL_free(der);
		return dkms_err_set(ctx, DKMS_E_FAIL,
				    "cannot write the signing key %s: %s; check the directory", ctx->mok_key,
				    strerror(-r));
	}
	r = sign_mkdir_parent(ctx->mok_cert);
	if (r == 0)
		r = dkms_write_file_atomic(ctx->mok_cert, der, (size_t)der_len, 0644);
	OPENSSL_free(der);
	if (r < 0) {
		unlink(ctx->mok_key);
		return dkms_err_set(ctx, DKMS_E_FAIL,
				    "cannot write the certificate %s: %s; check the directory", ctx->mok_cert,
				    strerror(-r));
	}
	return 0;
}

static bool sign_key_is_uri(const char *key)
{
	return strncmp(key, "pkcs11:", 7) == 0;
}

int dkms_sign_ensure_mok(struct dkms_ctx *ctx)
{
	char ebuf[256];
	bool have_key, have_cert;
	EVP_PKEY *pkey;
	X509 *x;
	int r;

	if (!ctx->mok_key || !ctx->mok_cert)
		return dkms_err_set(ctx, DKMS_E_FAIL,
				    "no signing key or certificate path configured: set "
				    "mok_signing_key and mok_certificate in framework.conf");
	have_key = sign_key_is_uri(ctx->mok_key) || dkms_exists(ctx->mok_key);
	have_cert = dkms_exists(ctx->mok_cert);
	if (have_key && have_cert)
		return 0;
	if (have_key)
		return dkms_err_set(ctx, DKMS_E_FAIL,
				    "signing key %s exists but its certificate %s is missing: restore it, "
				    "or remove the key to make a new pair",
				    ctx->mok_key, ctx->mok_cert);
	if (have_cert)
		return dkms_err_set(ctx, DKMS_E_FAIL,
				    "certificate %s exists but its signing key %s is missing: restore it, "
				    "or remove the certificate to make a new pair",
				    ctx->mok_cert, ctx->mok_key);

	dkms_log(ctx, DKMS_LOG_INFO, "creating the module signing key %s and certificate %s", ctx->mok_key,
		 ctx->mok_cert);
	pkey = EVP_RSA_gen(SIGN_RSA_BITS);
	if (!pkey)
		return dkms_err_set(ctx, DKMS_E_FAIL, "cannot generate an RSA key for %s: %s", ctx->mok_key,
				    sign_ossl_error(ebuf, sizeof(ebuf)));
	x = sign_make_cert(pkey);
	if (!x) {
		EVP_PKEY_free(pkey);
		return dkms_err_set(ctx, DKMS_E_FAIL, "cannot make the certificate %s: %s", ctx->mok_cert,
				    sign_ossl_error(ebuf, sizeof(ebuf)));
	}
	r = sign_write_pair(ctx, pkey, x);
	X509_free(x);
	EVP_PKEY_free(pkey);
	if (r == 0)
		dkms_log(ctx, DKMS_LOG_INFO,
			 "enroll %s with `mokutil --import %s` to load signed modules with Secure Boot",
			 ctx->mok_cert, ctx->mok_cert);
	return r;
}

int dkms_sign_generate_mok(struct dkms_ctx *ctx, bool *created)
{
	bool had = ctx->mok_key && ctx->mok_cert &&
		   (sign_key_is_uri(ctx->mok_key) || dkms_exists(ctx->mok_key)) && dkms_exists(ctx->mok_cert);
	int r = dkms_sign_ensure_mok(ctx);

	if (created)
		*created = r == 0 && !had;
	return r;
}

static bool sign_is_executable(const char *path)
{
	return dkms_is_file(path) && access(path, X_OK) == 0;
}

/* The sign-file for k: the configured one, the headers', Debian's kbuild's. */
static char *sign_find_tool(struct dkms_ctx *ctx, const struct dkms_kernel *k)
{
	const char *v = k->version;
	size_t major, minor;
	char *p;

	if (ctx->sign_file)
		return dkms_strdup(ctx->sign_file);
	p = dkms_path_join(k->source_dir, "scripts/sign-file");
	if (sign_is_executable(p))
		return p;
	free(p);
	major = strspn(v, "0123456789");
	if (major == 0 || v[major] != '.')
		return NULL;
	minor = strspn(v + major + 1, "0123456789");
	if (minor == 0)
		return NULL;
	p = dkms_asprintf("/usr/lib/linux-kbuild-%.*s/scripts/sign-file", (int)(major + 1 + minor), v);
	if (sign_is_executable(p))
		return p;
	free(p);
	return NULL;
}

/* First line of what a command wrote to fd, for a message. */
static void sign_read_output(int fd, char *buf, size_t len)
{
	ssize_t n;
	char *nl;

	buf[0] = '\0';
	if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return;
	n = read(fd, buf, len - 1);
	if (n <= 0)
		return;
	buf[n] = '\0';
	nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	for (char *c = buf; *c; c++)
		if (!isprint((unsigned char)*c))
			*c = ' ';
}

static int sign_fail(struct dkms_ctx *ctx, int code)
{
	dkms_log(ctx, DKMS_LOG_WARN, "%s", dkms_ctx_error(ctx));
	return code;
}

int dkms_sign_module(struct dkms_ctx *ctx, const struct dkms_kernel *k, const char *ko)
{
	char out[512];
	char *tool;
	int fd, st;

	if (!k->sig_hash) {
		dkms_log(ctx, DKMS_LOG_DEBUG, "kernel %s does not sign modules: %s left unsigned", k->version,
			 ko);
		return 0;
	}
	tool = sign_find_tool(ctx, k);
	if (!tool || !sign_is_executable(tool)) {
		if (tool)
			dkms_err_set(ctx, DKMS_E_FAIL,
				     "sign_file %s is not an executable file: %s stays unsigned; "
				     "fix sign_file in framework.conf",
				     tool, ko);
		else
			dkms_err_set(ctx, DKMS_E_FAIL,
				     "no sign-file for kernel %s in %s/scripts nor /usr/lib/linux-kbuild-*: "
				     "%s stays unsigned; install the kernel's headers and linux-kbuild",
				     k->version, k->source_dir, ko);
		free(tool);
		return sign_fail(ctx, DKMS_E_FAIL);
	}
	st = dkms_sign_ensure_mok(ctx);
	if (st) {
		free(tool);
		return sign_fail(ctx, st);
	}

	dkms_log(ctx, DKMS_LOG_DEBUG, "signing %s: %s %s %s %s", ko, tool, k->sig_hash, ctx->mok_key,
		 ctx->mok_cert);
	fd = memfd_create("dkms-sign-file", MFD_CLOEXEC);
	{
		const char *argv[] = { tool, k->sig_hash, ctx->mok_key, ctx->mok_cert, ko, NULL };
		struct dkms_cmd cmd = { .argv = argv, .cwd = NULL, .env = NULL, .log_fd = fd };

		st = dkms_run(&cmd);
	}
	if (st != 0) {
		sign_read_output(fd, out, sizeof(out));
		if (st < 0)
			dkms_err_set(ctx, DKMS_E_FAIL,
				     "cannot run %s to sign %s: %s; the module stays unsigned", tool, ko,
				     strerror(-st));
		else
			dkms_err_set(ctx, DKMS_E_FAIL,
				     "%s failed (status %d) signing %s for kernel %s%s%s; "
				     "the module stays unsigned",
				     tool, st, ko, k->version, out[0] ? ": " : "", out);
	}
	if (fd >= 0)
		close(fd);
	free(tool);
	return st ? sign_fail(ctx, DKMS_E_FAIL) : 0;
}
