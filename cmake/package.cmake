# The Debian package: `cpack -G DEB` in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr (./dev.sh package does both) writes
# vpcdns_<version>-<release>_<arch>.deb. Dependencies come from the
# binaries (dpkg-shlibdeps, from dpkg-dev); the maintainer scripts,
# copyright and changelog are in packaging/deb/; every file under
# /etc/vpcdns is a conffile.

set(VD_DEB_MAINTAINER "vpcdns maintainers <vpcdns@example.org>" CACHE STRING
  "Maintainer field of the Debian package")
set(VD_DEB_RELEASE 1 CACHE STRING "Debian revision of the package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vpcdns)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "private DNS resolver for AWS VPCs with per-VPC views")
# The extended description; CPack puts the summary above it and indents it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "vpcdns answers each client from the view its address falls in: local
zones with the interface VPC endpoint addresses of its VPC (same
Availability Zone first), forwarding with a cache for everything else.
It reloads without dropping queries and explains its answers to dig.

This package has the daemon, the endpoint inventory importer, a
hardened systemd unit running as the vpcdns system user, and an example
configuration in /etc/vpcdns.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${VD_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_RELEASE ${VD_DEB_RELEASE})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# postinst creates the system user with adduser.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_STRIP_FILES ON)
# Absolute destinations (/etc/vpcdns, /lib/systemd/system) need DESTDIR.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})

set(vd_conffiles "${VD_CONF_FILE}\n")
foreach(z ${vd_example_zones})
  string(APPEND vd_conffiles "${VD_CONF_DIR}/${z}\n")
endforeach()
file(WRITE ${PROJECT_BINARY_DIR}/deb/conffiles "${vd_conffiles}")
foreach(script postinst prerm postrm)
  configure_file(${PROJECT_SOURCE_DIR}/packaging/deb/${script}
    ${PROJECT_BINARY_DIR}/deb/${script} COPYONLY)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/deb/conffiles
  ${PROJECT_BINARY_DIR}/deb/postinst ${PROJECT_BINARY_DIR}/deb/prerm
  ${PROJECT_BINARY_DIR}/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# /usr/share/doc/vpcdns/copyright and changelog.Debian.gz (gzip -9n).
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/deb/changelog.Debian.gz
  COMMAND ${GZIP} -9nc ${PROJECT_SOURCE_DIR}/packaging/deb/changelog
    > ${PROJECT_BINARY_DIR}/deb/changelog.Debian.gz
  DEPENDS ${PROJECT_SOURCE_DIR}/packaging/deb/changelog VERBATIM)
add_custom_target(vd_deb_changelog ALL DEPENDS ${PROJECT_BINARY_DIR}/deb/changelog.Debian.gz)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/deb/copyright
  ${PROJECT_BINARY_DIR}/deb/changelog.Debian.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})

include(CPack)
