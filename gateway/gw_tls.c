/* TLS peer identity: libmicrohttpd serves HTTPS through GnuTLS; when
 * listen.tls.client_ca_file is set it asks for a client certificate, and here
 * we check the chain against that CA and read the certificate's subject DN,
 * which policy/ maps to an identity (mTLS). */
#include "gw_internal.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

int gw_tls_peer_dn(struct MHD_Connection *conn, char *dn, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL)
        return CM_ENOTFOUND;
    gnutls_session_t s = (gnutls_session_t)ci->tls_session;
    unsigned list_size = 0;
    const gnutls_datum_t *list = gnutls_certificate_get_peers(s, &list_size);
    if (list == NULL || list_size == 0)
        return CM_ENOTFOUND;
    unsigned status = 0;
    if (gnutls_certificate_verify_peers2(s, &status) != GNUTLS_E_SUCCESS || status != 0)
        return CM_EAUTH;
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS)
        return CM_EINTERNAL;
    int rc = CM_EAUTH;
    size_t len = n;
    if (gnutls_x509_crt_import(crt, &list[0], GNUTLS_X509_FMT_DER) == GNUTLS_E_SUCCESS &&
        gnutls_x509_crt_get_dn(crt, dn, &len) == GNUTLS_E_SUCCESS)
        rc = 0;
    gnutls_x509_crt_deinit(crt);
    return rc;
}
