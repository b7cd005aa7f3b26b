# packaging/install-files.cmake — run by `cmake --install` and by CPack (install(SCRIPT) in
# CMakeLists.txt): generates and installs the files that differ from their source in the repo.
# Promises: the installed unit's ExecStart names the binary where this very install put it; the
# installed config keeps the state where the unit allows writes; a source line that changed so
# that the substitution no longer applies stops the install instead of shipping a broken file.
#
# It runs at install time, not at build time, because only then is the real prefix known: CPack
# installs with the package's prefix (/usr), `cmake --install --prefix P` with P, and the unit
# must name P/bin/postbridge. It also makes `cmake --install` work after building only the
# `postbridge` target (packaging/quickstart.sh does that).
#
# Set by CMakeLists.txt before this script runs: PB_SOURCE_DIR, PB_BINARY_DIR, PB_BINDIR,
# PB_MANDIR, PB_SYSTEMD_UNIT_DIR, PB_CONFIG_DIR, PB_STATE_DIR.

foreach(var PB_SOURCE_DIR PB_BINARY_DIR PB_BINDIR PB_MANDIR PB_SYSTEMD_UNIT_DIR PB_CONFIG_DIR PB_STATE_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "packaging/install-files.cmake: ${var} is not set (include it through CMakeLists.txt)")
  endif()
endforeach()

# Relative install dirs are relative to the prefix of this install (GNUInstallDirs' convention).
function(pb_full_dir out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

set(gen "${PB_BINARY_DIR}/packaging")
file(MAKE_DIRECTORY "${gen}")

# --- the systemd unit: packaging/postbridge.service with ExecStart pointing at the installed
# binary. Everything else stays byte for byte as in the source.
pb_full_dir(bindir "${PB_BINDIR}")
file(READ "${PB_SOURCE_DIR}/packaging/postbridge.service" unit)
set(from "\nExecStart=/usr/local/bin/postbridge ")
set(to "\nExecStart=${bindir}/postbridge ")
string(FIND "${unit}" "${from}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "packaging/postbridge.service: no line 'ExecStart=/usr/local/bin/postbridge ...' "
                      "to point at ${bindir}/postbridge: update packaging/install-files.cmake with the unit")
endif()
string(REPLACE "${from}" "${to}" unit "${unit}")
file(WRITE "${gen}/postbridge.service" "${unit}")
pb_full_dir(unitdir "${PB_SYSTEMD_UNIT_DIR}")
file(INSTALL "${gen}/postbridge.service" DESTINATION "${unitdir}"
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# --- the example config with the state in the unit's StateDirectory (ReadWritePaths under
# ProtectSystem=strict). config/postbridge.toml keeps state_dir = "var" for the quick start.
file(READ "${PB_SOURCE_DIR}/config/postbridge.toml" config)
set(from "\nstate_dir = \"var\"\n")
set(to "\nstate_dir = \"${PB_STATE_DIR}\"\n")
string(FIND "${config}" "${from}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "config/postbridge.toml: no line 'state_dir = \"var\"' to replace with "
                      "'state_dir = \"${PB_STATE_DIR}\"': update packaging/install-files.cmake with the config")
endif()
string(REPLACE "${from}" "${to}" config "${config}")
file(WRITE "${gen}/postbridge.toml" "${config}")
# A config already there (an install by hand over an earlier one) is the admin's: never
# overwritten; the new example goes beside it as postbridge.toml.new. (dpkg handles the package's
# conffile itself; CPack installs into an empty staging folder.)
set(config_name postbridge.toml)
set(existing "$ENV{DESTDIR}${PB_CONFIG_DIR}/postbridge.toml")
if(EXISTS "${existing}")
  file(SHA256 "${existing}" old_hash)
  file(SHA256 "${gen}/postbridge.toml" new_hash)
  if(NOT old_hash STREQUAL new_hash)
    set(config_name postbridge.toml.new)
    file(COPY_FILE "${gen}/postbridge.toml" "${gen}/${config_name}")
    message(STATUS "Kept: ${existing} (yours); the new example config is ${PB_CONFIG_DIR}/${config_name}")
  endif()
endif()
# 0640: the package's postinst gives it to group postbridge; passwords may be written into it.
file(INSTALL "${gen}/${config_name}" DESTINATION "${PB_CONFIG_DIR}"
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)

# --- the manual pages, gzip'ed as Debian policy wants (-n: no name or time stamp, so the same
# page always gives the same bytes).
find_program(PB_GZIP gzip REQUIRED)
pb_full_dir(mandir "${PB_MANDIR}")
foreach(page postbridge.8 postbridge.toml.5)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section "${page}")
  execute_process(COMMAND "${PB_GZIP}" -9 -n -c "${PB_SOURCE_DIR}/packaging/${page}"
                  OUTPUT_FILE "${gen}/${page}.gz" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip of packaging/${page} failed: ${rc}")
  endif()
  file(INSTALL "${gen}/${page}.gz" DESTINATION "${mandir}/man${section}"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endforeach()
