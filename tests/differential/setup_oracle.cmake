# Installs the reference engine (cr-sqlite 0.16 in WebAssembly) for the
# differential tests: cmake -DNODE=... -DNPM=... -DPREFIX=... -DPACKAGE=...
# -DVERSION=... -P setup_oracle.cmake. Fails (never skips) without node/npm.
# With BL_ORACLE_DIR set in the environment to a prefix that already holds
# the package, nothing is installed (the tests use that prefix).
if(NOT NODE)
  message(FATAL_ERROR "differential tests: 'node' was not found when configuring (install Node.js >= 18 and re-run cmake)")
endif()
if(NOT NPM)
  message(FATAL_ERROR "differential tests: 'npm' was not found when configuring (install npm and re-run cmake)")
endif()
execute_process(COMMAND ${NODE} --version OUTPUT_VARIABLE node_version RESULT_VARIABLE rc
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "differential tests: '${NODE} --version' failed")
endif()
string(REGEX REPLACE "^v([0-9]+).*" "\\1" node_major "${node_version}")
if(node_major LESS 18)
  message(FATAL_ERROR "differential tests: Node.js ${node_version} is too old (need >= 18)")
endif()

function(installed_version prefix out)
  set(pj ${prefix}/node_modules/${PACKAGE}/package.json)
  set(${out} "" PARENT_SCOPE)
  if(EXISTS ${pj})
    file(READ ${pj} content)
    string(JSON v ERROR_VARIABLE err GET "${content}" version)
    if(NOT err)
      set(${out} "${v}" PARENT_SCOPE)
    endif()
  endif()
endfunction()

if(DEFINED ENV{BL_ORACLE_DIR})
  installed_version($ENV{BL_ORACLE_DIR} v)
  if(v STREQUAL VERSION)
    message(STATUS "using ${PACKAGE}@${v} from BL_ORACLE_DIR=$ENV{BL_ORACLE_DIR}")
    return()
  endif()
  message(FATAL_ERROR "BL_ORACLE_DIR=$ENV{BL_ORACLE_DIR} does not hold ${PACKAGE}@${VERSION} (found '${v}')")
endif()

installed_version(${PREFIX} v)
if(v STREQUAL VERSION)
  message(STATUS "${PACKAGE}@${v} already installed in ${PREFIX}")
  return()
endif()
file(MAKE_DIRECTORY ${PREFIX})
message(STATUS "installing ${PACKAGE}@${VERSION} into ${PREFIX}")
execute_process(
  COMMAND ${NPM} install --no-save --no-audit --no-fund --ignore-scripts --prefix ${PREFIX} ${PACKAGE}@${VERSION}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "differential tests: npm install ${PACKAGE}@${VERSION} failed (${rc})")
endif()
installed_version(${PREFIX} v)
if(NOT v STREQUAL VERSION)
  message(FATAL_ERROR "differential tests: ${PACKAGE}@${VERSION} not found in ${PREFIX} after npm install")
endif()
