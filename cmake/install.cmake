# What `cmake --install` puts where (prefix /usr/local by default, /usr
# for the Debian package): the programs, every man page (compressed), the
# example configuration with its zones as VD_CONF_DIR/vpcdns.yaml (never
# over an existing file), the systemd units and the documentation.
# Programs of other parts of the tree are installed when their targets
# exist.

foreach(prog vpcdns vpcdnsctl vpcdns-sync)
  if(TARGET ${prog})
    install(TARGETS ${prog} DESTINATION ${CMAKE_INSTALL_SBINDIR})
  endif()
endforeach()
if(TARGET vpcdns-import)
  install(TARGETS vpcdns-import DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# Man pages, gzip -9n (reproducible: no name or time stamp), each into its
# section's folder.
find_program(GZIP gzip REQUIRED)
file(GLOB vd_man_pages CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.[1-8])
set(vd_man_gz "")
foreach(page ${vd_man_pages})
  get_filename_component(name ${page} NAME)
  string(REGEX REPLACE "^.*\\.([1-8])$" "\\1" section ${name})
  set(gz ${PROJECT_BINARY_DIR}/man/${name}.gz)
  add_custom_command(OUTPUT ${gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND ${GZIP} -9nc ${page} > ${gz}
    DEPENDS ${page} VERBATIM)
  list(APPEND vd_man_gz ${gz})
  install(FILES ${gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(vd_man ALL DEPENDS ${vd_man_gz})

# The example configuration, made to work from VD_CONF_DIR: its zone
# paths are relative to the file's folder, where the example zones go.
file(READ ${PROJECT_SOURCE_DIR}/conf/vpcdns.yaml vd_conf_text)
string(REPLACE
  "  # Relative zone paths below resolve against this folder, which is itself\n  # relative to this file's folder (conf/.. = the repository root).\n  directory: \"..\"\n"
  "  # Relative zone paths below resolve against this folder, which is itself\n  # relative to this file's folder (the example zones are in zones/ here).\n  directory: \".\"\n"
  vd_conf_installed "${vd_conf_text}")
if(vd_conf_installed STREQUAL vd_conf_text)
  message(FATAL_ERROR "conf/vpcdns.yaml: the 'directory' lines changed; "
    "update the replacement in cmake/install.cmake")
endif()
file(WRITE ${PROJECT_BINARY_DIR}/etc/vpcdns.yaml "${vd_conf_installed}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/conf/vpcdns.yaml)
file(GLOB_RECURSE vd_example_zones RELATIVE ${PROJECT_SOURCE_DIR}
  CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/zones/*.zone)

# Into VD_CONF_DIR only when absent: an operator's files are never
# replaced (the Debian package marks them as conffiles instead).
set(vd_conf_files "${PROJECT_BINARY_DIR}/etc/vpcdns.yaml=vpcdns.yaml")
foreach(z ${vd_example_zones})
  list(APPEND vd_conf_files "${PROJECT_SOURCE_DIR}/${z}=${z}")
endforeach()
install(CODE "
  foreach(pair ${vd_conf_files})
    string(REPLACE \"=\" \";\" pair \"\${pair}\")
    list(GET pair 0 src)
    list(GET pair 1 rel)
    set(dst \"\$ENV{DESTDIR}${VD_CONF_DIR}/\${rel}\")
    if(EXISTS \"\${dst}\")
      message(STATUS \"Keeping: \${dst}\")
    else()
      get_filename_component(dir \"\${dst}\" DIRECTORY)
      file(MAKE_DIRECTORY \"\${dir}\")
      message(STATUS \"Installing: \${dst}\")
      file(COPY_FILE \"\${src}\" \"\${dst}\")
    endif()
  endforeach()
")
# Pristine copies beside the documentation, to compare with or start over.
install(FILES ${PROJECT_BINARY_DIR}/etc/vpcdns.yaml
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/zones
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# systemd units: vpcdns.service from its template; the sync service and
# timer when they are in the tree.
configure_file(${PROJECT_SOURCE_DIR}/systemd/vpcdns.service.in
  ${PROJECT_BINARY_DIR}/systemd/vpcdns.service @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/systemd/vpcdns.service
  DESTINATION ${VD_SYSTEMD_UNIT_DIR})
foreach(unit vpcdns-sync.service vpcdns-sync.timer)
  if(EXISTS ${PROJECT_SOURCE_DIR}/systemd/${unit})
    install(FILES ${PROJECT_SOURCE_DIR}/systemd/${unit} DESTINATION ${VD_SYSTEMD_UNIT_DIR})
  endif()
endforeach()

# The guides the man pages point at.
file(GLOB vd_docs ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${vd_docs} ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
