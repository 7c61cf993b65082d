# packaging.cmake - run by `cmake --install` (install(SCRIPT), CMakeLists.txt):
# fills the paths of packaging/*.in with those of this install's prefix (so
# `cmake --install build --prefix P` gives units that start P/bin/offerq) into
# OQ_PKG_OUT, which the install(FILES) rules after this one copy into place.
# In: OQ_PKG_SRC, OQ_PKG_OUT, OQ_BINDIR_REL, OQ_SYSCONFDIR_REL (GNUInstallDirs'
# relative dirs), CMAKE_INSTALL_PREFIX (the install's own).
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(IS_ABSOLUTE "${OQ_BINDIR_REL}")
  set(OQ_BINDIR "${OQ_BINDIR_REL}")
else()
  set(OQ_BINDIR "${prefix}/${OQ_BINDIR_REL}")
endif()
# GNUInstallDirs' rule: the prefix /usr keeps its configuration in /etc.
if(IS_ABSOLUTE "${OQ_SYSCONFDIR_REL}")
  set(OQ_SYSCONFDIR "${OQ_SYSCONFDIR_REL}")
elseif(prefix STREQUAL "/usr")
  set(OQ_SYSCONFDIR "/etc")
else()
  set(OQ_SYSCONFDIR "${prefix}/${OQ_SYSCONFDIR_REL}")
endif()
foreach(f offerq-nightly.service offerq.service offerq.cron)
  configure_file("${OQ_PKG_SRC}/${f}.in" "${OQ_PKG_OUT}/${f}" @ONLY)
endforeach()
