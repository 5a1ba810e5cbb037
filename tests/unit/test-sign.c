/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sign.c: the MOK pair made with OpenSSL, and real modules signed with the kernel's sign-file. */
#include "fixture.h"

#include <strings.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static struct fixture_log logged;

/* The dkms tree is not created: ensure_mok makes it. */
static void setup(void)
{
	fixture_setup("sign", FX_CONF_DIR | FX_CTX);
	fixture_log_capture(&logged);
}

TestSuite(sign, .init = setup, .fini = fixture_teardown);

static X509 *read_cert(const char *path)
{
	char *buf;
	size_t len;
	const unsigned char *p;
	X509 *x;

	cr_assert_eq(dkms_read_file(path, &buf, &len), 0, "%s", path);
	p = (const unsigned char *)buf;
	x = d2i_X509(NULL, &p, (long)len);
	cr_assert_not_null(x, "%s is not a DER certificate", path);
	cr_assert_eq((const char *)p, buf + len, "trailing bytes in %s", path);
	free(buf);
	return x;
}

static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	cr_assert_not_null(f, "%s", path);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	cr_assert_not_null(k, "%s is not an unencrypted PEM private key", path);
	return k;
}

Test(sign, ensure_mok_creates_pair)
{
	struct stat st;
	EVP_PKEY *key;
	X509 *x;
	char cn[128];
	int days, secs;
	uint32_t xku;

	cr_assert_not(dkms_exists(ctx->mok_key));
	cr_assert_eq(dkms_sign_ensure_mok(ctx), 0, "%s", dkms_ctx_error(ctx));

	cr_assert_eq(stat(ctx->mok_key, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "key mode %o", st.st_mode & 07777);
	key = read_key(ctx->mok_key);
	cr_assert(EVP_PKEY_is_a(key, "RSA"));
	cr_assert_eq(EVP_PKEY_get_bits(key), 2048);
	{
		char *pem;

		cr_assert_eq(dkms_read_file(ctx->mok_key, &pem, NULL), 0);
		cr_assert_eq(strncmp(pem, "-----BEGIN PRIVATE KEY-----", 27), 0, "%.40s", pem);
		free(pem);
	}

	x = read_cert(ctx->mok_cert);
	cr_assert_eq(X509_get_version(x), X509_VERSION_3);
	cr_assert_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)), 0);
	cr_assert_str_eq(cn, "DKMS module signing key");
	cr_assert_eq(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0, "self-signed");
	cr_assert_eq(X509_check_private_key(x, key), 1, "certificate and key match");
	cr_assert_eq(X509_verify(x, key), 1, "signature verifies with its own key");
	cr_assert_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
	cr_assert_eq(days, 36500, "validity %d days", days);
	cr_assert(X509_cmp_current_time(X509_get0_notBefore(x)) <= 0);

	xku = X509_get_extended_key_usage(x);
	cr_assert(xku & XKU_CODE_SIGN, "extendedKeyUsage codeSigning");
	cr_assert(X509_get_extension_flags(x) & EXFLAG_BCONS, "basicConstraints present");
	cr_assert_not(X509_get_extension_flags(x) & EXFLAG_CA, "CA:FALSE");
	cr_assert_not_null(X509_get0_subject_key_id(x), "subjectKeyIdentifier");
	cr_assert_not_null(X509_get0_authority_key_id(x), "authorityKeyIdentifier with a keyid");
	cr_assert_eq(ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(x), X509_get0_authority_key_id(x)), 0);
	{
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);

		cr_assert_not(BN_is_negative(bn));
		cr_assert_gt(BN_num_bytes(bn), 8, "random serial");
		BN_free(bn);
	}
	cr_assert_neq(strstr(logged.text, "creating the module signing key"), NULL, "%s", logged.text);
	X509_free(x);
	EVP_PKEY_free(key);
}

Test(sign, ensure_mok_keeps_existing_pair)
{
	char *k1, *c1, *k2, *c2;
	size_t kl1, cl1, kl2, cl2;

	cr_assert_eq(dkms_sign_ensure_mok(ctx), 0);
	cr_assert_eq(dkms_read_file(ctx->mok_key, &k1, &kl1), 0);
	cr_assert_eq(dkms_read_file(ctx->mok_cert, &c1, &cl1), 0);
	cr_assert_eq(dkms_sign_ensure_mok(ctx), 0);
	cr_assert_eq(dkms_read_file(ctx->mok_key, &k2, &kl2), 0);
	cr_assert_eq(dkms_read_file(ctx->mok_cert, &c2, &cl2), 0);
	cr_assert(kl1 == kl2 && memcmp(k1, k2, kl1) == 0);
	cr_assert(cl1 == cl2 && memcmp(c1, c2, cl1) == 0);
	free(k1);
	free(c1);
	free(k2);
	free(c2);
}

Test(sign, ensure_mok_refuses_half_a_pair)
{
	char *buf;

	cr_assert_eq(dkms_mkdir_p(ctx->dkms_tree, 0755), 0);
	cr_assert_eq(dkms_write_file_atomic(ctx->mok_key, "my key", 6, 0600), 0);
	cr_assert_neq(dkms_sign_ensure_mok(ctx), 0);
	cr_assert_neq(strstr(dkms_ctx_error(ctx), ctx->mok_cert), NULL, "%s", dkms_ctx_error(ctx));
	cr_assert_not(dkms_exists(ctx->mok_cert));
	cr_assert_eq(dkms_read_file(ctx->mok_key, &buf, NULL), 0);
	cr_assert_str_eq(buf, "my key", "the key is never overwritten");
	free(buf);

	cr_assert_eq(unlink(ctx->mok_key), 0);
	cr_assert_eq(dkms_write_file_atomic(ctx->mok_cert, "cert", 4, 0644), 0);
	cr_assert_neq(dkms_sign_ensure_mok(ctx), 0);
	cr_assert_neq(strstr(dkms_ctx_error(ctx), ctx->mok_key), NULL, "%s", dkms_ctx_error(ctx));
	cr_assert_not(dkms_exists(ctx->mok_key));
}

Test(sign, generate_mok_says_whether_it_made_the_pair)
{
	bool created = false;

	cr_assert_str_eq(dkms_ctx_mok_key(ctx), ctx->mok_key);
	cr_assert_str_eq(dkms_ctx_mok_cert(ctx), ctx->mok_cert);
	cr_assert_eq(dkms_sign_generate_mok(ctx, &created), 0, "%s", dkms_ctx_error(ctx));
	cr_assert(created, "a new pair is reported as created");
	cr_assert(dkms_is_file(ctx->mok_key) && dkms_is_file(ctx->mok_cert));
	cr_assert_eq(dkms_sign_generate_mok(ctx, &created), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_not(created, "an existing pair is kept, not created");
	cr_assert_eq(unlink(ctx->mok_cert), 0);
	created = true;
	cr_assert_eq(dkms_sign_generate_mok(ctx, &created), DKMS_E_FAIL);
	cr_assert_not(created);
	cr_assert_not(dkms_exists(ctx->mok_cert), "half a pair is not completed");
}

Test(sign, ensure_mok_pkcs11_key)
{
	free(ctx->mok_key);
	ctx->mok_key = dkms_strdup("pkcs11:token=mytoken;object=dkms");
	cr_assert_eq(dkms_mkdir_p(ctx->dkms_tree, 0755), 0);
	cr_assert_eq(dkms_write_file_atomic(ctx->mok_cert, "cert", 4, 0644), 0);
	cr_assert_eq(dkms_sign_ensure_mok(ctx), 0, "a token key is not a file: %s", dkms_ctx_error(ctx));
}

Test(sign, ensure_mok_unwritable)
{
	free(ctx->mok_key);
	free(ctx->mok_cert);
	ctx->mok_key = dkms_strdup("/proc/version/mok.key");
	ctx->mok_cert = dkms_strdup("/proc/version/mok.pub");
	cr_assert_eq(dkms_sign_ensure_mok(ctx), DKMS_E_FAIL);
	cr_assert_neq(strstr(dkms_ctx_error(ctx), "/proc/version/mok.key"), NULL, "%s", dkms_ctx_error(ctx));
}

static struct dkms_kernel *fake_kernel(const char *kver, const char *hash)
{
	struct dkms_kernel *k = calloc(1, sizeof(*k));

	k->version = dkms_strdup(kver);
	k->arch = dkms_strdup("x86_64");
	k->source_dir = tpath("headers");
	k->modules_dir = tpath("lib/modules");
	k->sig_hash = hash ? dkms_strdup(hash) : NULL;
	return k;
}

/* A sign-file stand-in: records its arguments in <tmp>/args, exits with status. */
static char *fake_sign_file(const char *rel, int status)
{
	char *p = tpath(rel), *d = dkms_strdup(p), *args = tpath("args");
	char *script = dkms_asprintf("#!/bin/sh\n"
				     "printf '%%s\\n' \"$@\" > '%s'\n"
				     "echo 'sign-file: boom' >&2\n"
				     "exit %d\n",
				     args, status);

	*strrchr(d, '/') = '\0';
	cr_assert_eq(dkms_mkdir_p(d, 0755), 0);
	cr_assert_eq(dkms_write_file_atomic(p, script, strlen(script), 0755), 0);
	free(d);
	free(args);
	free(script);
	return p;
}

static char *read_args(void)
{
	char *p = tpath("args"), *buf = NULL;

	if (dkms_read_file(p, &buf, NULL) < 0)
		buf = NULL;
	free(p);
	return buf;
}

Test(sign, no_hash_no_signing)
{
	struct dkms_kernel *k = fake_kernel("6.1.0-55-amd64", NULL);
	char *ko = tpath("m.ko");

	ctx->sign_file = fake_sign_file("bin/sign-file", 0);
	cr_assert_eq(dkms_write_file_atomic(ko, "ko", 2, 0644), 0);
	cr_assert_eq(dkms_sign_module(ctx, k, ko), 0);
	cr_assert_null(read_args(), "sign-file must not run");
	cr_assert_not(dkms_exists(ctx->mok_key), "no key made for nothing");
	dkms_kernel_free(k);
	free(ko);
}

Test(sign, runs_configured_sign_file_with_args)
{
	struct dkms_kernel *k = fake_kernel("6.1.0-55-amd64", "sha384");
	char *ko = tpath("m.ko"), *args, *want;

	ctx->sign_file = fake_sign_file("bin/sign-file", 0);
	free(fake_sign_file("headers/scripts/sign-file", 9)); /* the configured one wins */
	cr_assert_eq(dkms_write_file_atomic(ko, "ko", 2, 0644), 0);
	cr_assert_eq(dkms_sign_module(ctx, k, ko), 0, "%s", dkms_ctx_error(ctx));
	args = read_args();
	want = dkms_asprintf("sha384\n%s\n%s\n%s\n", ctx->mok_key, ctx->mok_cert, ko);
	cr_assert_str_eq(args, want);
	cr_assert(dkms_is_file(ctx->mok_key) && dkms_is_file(ctx->mok_cert), "the pair is made on first use");
	free(args);
	free(want);
	dkms_kernel_free(k);
	free(ko);
}

Test(sign, headers_sign_file_before_kbuild)
{
	struct dkms_kernel *k = fake_kernel("6.1.0-55-amd64", "sha256");
	char *ko = tpath("m.ko"), *args;

	free(fake_sign_file("headers/scripts/sign-file", 0));
	cr_assert_eq(dkms_write_file_atomic(ko, "ko", 2, 0644), 0);
	cr_assert_eq(dkms_sign_module(ctx, k, ko), 0, "%s", dkms_ctx_error(ctx));
	args = read_args();
	cr_assert_not_null(args, "<source_dir>/scripts/sign-file was not used");
	cr_assert_eq(strncmp(args, "sha256\n", 7), 0);
	free(args);
	dkms_kernel_free(k);
	free(ko);
}

Test(sign, failure_is_a_warning_with_output)
{
	struct dkms_kernel *k = fake_kernel("6.1.0-55-amd64", "sha256");
	char *ko = tpath("m.ko");

	ctx->sign_file = fake_sign_file("bin/sign-file", 3);
	cr_assert_eq(dkms_write_file_atomic(ko, "ko", 2, 0644), 0);
	cr_assert_neq(dkms_sign_module(ctx, k, ko), 0);
	cr_assert_neq(strstr(dkms_ctx_error(ctx), "sign-file: boom"), NULL, "%s", dkms_ctx_error(ctx));
	cr_assert_neq(strstr(dkms_ctx_error(ctx), ko), NULL, "%s", dkms_ctx_error(ctx));
	cr_assert_neq(strstr(logged.text, "1:"), NULL, "a warning is logged: %s", logged.text);
	dkms_kernel_free(k);
	free(ko);
}

Test(sign, missing_sign_file)
{
	struct dkms_kernel *k = fake_kernel("6.1.0-55-amd64", "sha256");
	char *ko = tpath("m.ko");

	ctx->sign_file = tpath("bin/nope");
	cr_assert_eq(dkms_write_file_atomic(ko, "ko", 2, 0644), 0);
	cr_assert_neq(dkms_sign_module(ctx, k, ko), 0);
	cr_assert_neq(strstr(dkms_ctx_error(ctx), "bin/nope"), NULL, "%s", dkms_ctx_error(ctx));
	cr_assert_neq(strstr(logged.text, "1:"), NULL, "a warning is logged: %s", logged.text);

	/* no configured tool, no headers' tool, no kbuild for this version */
	free(ctx->sign_file);
	ctx->sign_file = NULL;
	free(k->version);
	k->version = dkms_strdup("2.0.99-test");
	cr_assert_neq(dkms_sign_module(ctx, k, ko), 0);
	cr_assert_neq(strstr(dkms_ctx_error(ctx), "2.0.99-test"), NULL, "%s", dkms_ctx_error(ctx));
	dkms_kernel_free(k);
	free(ko);
}

/* "AB:CD:..." as libkmod prints a serial, compared with the certificate's. */
static void check_sig_key(const char *ko, X509 *cert)
{
	char *sig_key = kmod_info(ko, "sig_key"), *hex, *flat;
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	size_t j = 0;

	cr_assert_not_null(sig_key, "%s: no sig_key", ko);
	flat = dkms_strdup(sig_key);
	for (size_t i = 0; sig_key[i]; i++)
		if (sig_key[i] != ':')
			flat[j++] = sig_key[i];
	flat[j] = '\0';
	hex = BN_bn2hex(bn);
	cr_assert_eq(strcasecmp(flat, hex), 0, "sig_key %s, certificate serial %s", sig_key, hex);
	OPENSSL_free(hex);
	BN_free(bn);
	free(flat);
	free(sig_key);
}

static void check_signed(const char *ko, X509 *cert)
{
	char *signer = kmod_info(ko, "signer"), *algo = kmod_info(ko, "sig_hashalgo");

	cr_assert_not_null(signer, "%s carries no signature", ko);
	cr_assert_str_eq(signer, "DKMS module signing key");
	cr_assert_not_null(algo);
	cr_assert_str_eq(algo, "sha256");
	check_sig_key(ko, cert);
	free(signer);
	free(algo);
}

Test(sign, real_module_signed_with_kernel_sign_file, .timeout = 300)
{
	char *ko = hello_build(tmp);
	char *ko2 = tpath("hello-kbuild.ko"), *xz = tpath("hello.ko.xz");
	struct dkms_kernel *k;
	X509 *cert;
	char *signer;

	signer = kmod_info(ko, "signer");
	cr_assert_null(signer, "a fresh build is unsigned");
	cr_assert_eq(dkms_copy_file(ko, ko2, 0644), 0);

	free(ctx->install_tree);
	ctx->install_tree = dkms_strdup("/lib/modules");
	cr_assert_eq(dkms_kernel_open(ctx, HELLO_KVER, "x86_64", &k), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_str_eq(k->sig_hash, "sha256", "Debian's 6.1 headers: CONFIG_MODULE_SIG_HASH=\"sha256\"");
	cr_assert_null(ctx->sign_file);

	/* the headers' scripts/sign-file */
	cr_assert_eq(dkms_sign_module(ctx, k, ko), 0, "%s", dkms_ctx_error(ctx));
	cert = read_cert(ctx->mok_cert);
	check_signed(ko, cert);

	/* and modinfo agrees */
	{
		char *out = tpath("modinfo.out"), *text;
		const char *argv[] = { "modinfo", "-F", "signer", ko, NULL };
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		struct dkms_cmd cmd = { .argv = argv, .log_fd = fd };

		cr_assert_eq(dkms_run(&cmd), 0);
		close(fd);
		cr_assert_eq(dkms_read_file(out, &text, NULL), 0);
		cr_assert_str_eq(text, "DKMS module signing key\n");
		free(text);
		free(out);
	}

	/* Debian's /usr/lib/linux-kbuild-6.1/scripts/sign-file when the headers have none */
	cr_assert(access("/usr/lib/linux-kbuild-6.1/scripts/sign-file", X_OK) == 0,
		  "install linux-kbuild-6.1");
	free(k->source_dir);
	k->source_dir = tpath("no-headers");
	cr_assert_eq(dkms_sign_module(ctx, k, ko2), 0, "%s", dkms_ctx_error(ctx));
	check_signed(ko2, cert);

	/* sign, then compress: still a signed module to libkmod */
	cr_assert_eq(dkms_compress_file(DKMS_COMPRESS_XZ, ko, xz), 0);
	check_signed(xz, cert);

	X509_free(cert);
	dkms_kernel_free(k);
	free(ko);
	free(ko2);
	free(xz);
}
